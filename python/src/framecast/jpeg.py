"""Just enough JPEG to check a frame and read its size without decoding it."""

from __future__ import annotations

from typing import Optional, Tuple

__all__ = ["looks_like_jpeg", "jpeg_size"]

# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not SOFs.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def looks_like_jpeg(data: bytes) -> bool:
    """True when ``data`` starts with SOI (FF D8) and ends with EOI (FF D9), a few zero padding bytes allowed."""
    if len(data) < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    end = len(data)
    while end > 2 and data[end - 1] == 0 and len(data) - end < 16:
        end -= 1
    return data[end - 2] == 0xFF and data[end - 1] == 0xD9


def jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from the first SOF marker, or None when the markers are malformed or have no SOF."""
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    i = 2
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD8 or marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
            continue
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            # FF Cn, length (2), precision (1), height (2), width (2)
            if i + 9 > n:
                return None
            height = (data[i + 5] << 8) | data[i + 6]
            width = (data[i + 7] << 8) | data[i + 8]
            return width, height
        if marker == 0xDA:  # start of scan before any SOF
            return None
        i += 2 + length
    return None
