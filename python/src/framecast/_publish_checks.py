"""What a publisher checks before anything goes on the wire: the stream's name, the JPEG quality, and that
a frame is one whole JPEG the server will take."""

from __future__ import annotations

import re
from typing import Any, Optional, Union

from .errors import FramecastError
from .jpeg import looks_like_jpeg

__all__ = ["MAX_PUBLISHED_FRAME_BYTES", "check_stream_name", "check_quality", "whole_jpeg"]

#: The largest JPEG a framecast server takes from a publisher (16 MiB).
MAX_PUBLISHED_FRAME_BYTES = 16 * 1024 * 1024
#: Stream names a server accepts in a hello.
_STREAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_stream_name(stream: Optional[str]) -> None:
    """Raises FramecastError ERR_USAGE for a stream name the server would refuse (None: the default stream)."""
    if stream is not None and not _STREAM_NAME.fullmatch(stream):
        raise FramecastError(
            "ERR_USAGE", f"stream name {stream!r}: letters, digits, '_', '.', '-' (1 to 64, not starting with _.-)"
        )


def check_quality(quality: Any) -> int:
    """``quality`` as an int from 1 to 100 (ValueError otherwise: 80.5 and "80" are not qualities)."""
    try:
        q = int(quality)
    except (TypeError, ValueError):
        q = -1
    if not 1 <= q <= 100 or q != quality:
        raise ValueError(f"JPEG quality must be an integer from 1 to 100, got {quality!r}")
    return q


def whole_jpeg(data: Union[bytes, bytearray, memoryview]) -> bytes:
    """``data`` as bytes when it is a whole JPEG within the server's cap (TypeError, ValueError otherwise)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"send_jpeg() takes the JPEG's bytes, not {type(data).__name__}")
    if len(data) > MAX_PUBLISHED_FRAME_BYTES:
        raise ValueError(f"the JPEG is {len(data)} bytes, over the server's limit of {MAX_PUBLISHED_FRAME_BYTES}")
    if not looks_like_jpeg(data):
        raise ValueError("send_jpeg() takes a whole JPEG (it must start with FF D8 and end with FF D9)")
    return data
