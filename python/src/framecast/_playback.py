"""Playback of a server's recording: when to start and how fast, as the native hello carries them."""

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
