"""What a reader asks beside the live stream, as the native hello carries it: a playback (when, how fast) and a
view (another width, quality or rate)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional, Tuple, Union

from .errors import FramecastError


def playback_of(at: Union[None, str, float, datetime], speed: float) -> Optional[Tuple[float, float]]:
    """``at`` and ``speed`` as the hello's (start ms since the epoch, speed), or None for live."""
    if at is None:
        return None
    if isinstance(at, str):
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise FramecastError("ERR_USAGE", f"at must be an ISO 8601 time (e.g. 2026-12-07T03:00:00Z), got {at!r}") from None
        if when.tzinfo is None:
            raise FramecastError("ERR_USAGE", f"at needs its time zone (e.g. ...Z or ...+01:00), got {at!r}")
        start = when.timestamp() * 1000
    elif isinstance(at, datetime):
        if at.tzinfo is None:
            raise FramecastError("ERR_USAGE", "at must be a timezone-aware datetime")
        start = at.timestamp() * 1000
    else:
        start = float(at) * 1000
    if not 0.1 <= float(speed) <= 16:
        raise FramecastError("ERR_USAGE", f"speed must be from 0.1 to 16, got {speed!r}")
    return (start, float(speed))


def view_of(width: Optional[int], quality: Optional[int], fps: Optional[float]) -> Optional[Tuple[int, int, float]]:
    """``width``, ``quality`` and ``fps`` as the hello's view block (0 for the stream's own), or None."""
    if width is None and quality is None and fps is None:
        return None
    if width is not None and not (isinstance(width, int) and 16 <= width <= 16384):
        raise FramecastError("ERR_USAGE", f"width must be an integer from 16 to 16384, got {width!r}")
    if quality is not None and not (isinstance(quality, int) and 1 <= quality <= 100):
        raise FramecastError("ERR_USAGE", f"quality must be an integer from 1 to 100, got {quality!r}")
    if fps is not None and not 0.1 <= float(fps) <= 1000:
        raise FramecastError("ERR_USAGE", f"fps must be from 0.1 to 1000, got {fps!r}")
    return (width or 0, quality or 0, float(fps or 0))
