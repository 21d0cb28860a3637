"""Per-frame metadata and annotations, checked before they are sent (the server's rules: one JSON object, at
most ``max_bytes`` of compact UTF-8 JSON, nested at most 32 deep; analyzer names like stream names), and the
JSON objects that arrive parsed. Pure: no sockets."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional

from .errors import FramecastError

__all__ = ["DEFAULT_MAX_META_BYTES", "MAX_META_DEPTH", "meta_json", "check_analyzer", "parse_object"]

#: The server's default cap on one frame's metadata or one annotation (a stream's ``maxMetaBytes``).
DEFAULT_MAX_META_BYTES = 64 * 1024
#: Deepest nesting of arrays and objects the server takes.
MAX_META_DEPTH = 32
_ANALYZER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _too_deep(value: Any, limit: int) -> bool:
    """True when ``value`` nests arrays/objects more than ``limit`` deep (stops as soon as it knows)."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return False
    if limit <= 0:
        return True
    return any(_too_deep(v, limit - 1) for v in children)


def meta_json(value: Any, max_bytes: int = DEFAULT_MAX_META_BYTES, what: str = "metadata") -> bytes:
    """``value`` (a dict) as compact UTF-8 JSON; FramecastError ``ERR_BAD_META`` says why it cannot be sent."""
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise FramecastError("ERR_BAD_META", f"{what} not sent: it must be a dict (a JSON object), not {kind}")
    if _too_deep(value, MAX_META_DEPTH):
        raise FramecastError("ERR_BAD_META", f"{what} not sent: nested deeper than {MAX_META_DEPTH} levels")
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise FramecastError("ERR_BAD_META", f"{what} not sent: not JSON ({e})") from None
    data = text.encode("utf-8")
    if len(data) > max_bytes:
        raise FramecastError("ERR_BAD_META", f"{what} not sent: {len(data)} bytes of JSON is over {max_bytes}")
    return data


def check_analyzer(name: Any) -> str:
    """``name`` when the server takes it as an analyzer's name, else FramecastError ``ERR_BAD_META``."""
    if not isinstance(name, str) or not _ANALYZER.fullmatch(name):
        raise FramecastError(
            "ERR_BAD_META", f"analyzer name {name!r}: letters, digits, '_', '.', '-' (1 to 64, not starting with _.-)"
        )
    return name


def parse_object(data: bytes) -> Optional[Dict[str, Any]]:
    """The JSON object in ``data``, or None when it is not one (the server checked it: never expected)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
