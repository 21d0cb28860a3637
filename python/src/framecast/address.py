"""Server addresses: ``HOST[:PORT][/STREAM]``."""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

from .errors import FramecastError
from .protocol import MAX_STREAM_NAME_BYTES

__all__ = ["Address", "parse_address", "DEFAULT_PORT"]

DEFAULT_PORT = 9999


class Address(NamedTuple):
    """Where to connect, and which stream to ask for (None: the server's default stream)."""

    host: str
    port: int
    stream: Optional[str] = None

    @property
    def named(self) -> bool:
        """True when a stream other than the default one is asked for (a version-2 hello)."""
        return self.stream is not None and self.stream != "default"

    def __str__(self) -> str:
        where = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return where if self.stream is None else f"{where}/{self.stream}"


def _usage(message: str) -> FramecastError:
    return FramecastError("ERR_USAGE", message)


def parse_address(text: Optional[str], default_port: int = DEFAULT_PORT) -> Address:
    """Parses ``HOST``, ``HOST:PORT``, ``[IPv6]:PORT``, a bare IPv6 address, or ``tcp://`` URLs, each with an
    optional ``/STREAM`` (1 to 64 bytes of UTF-8). Raises FramecastError ``ERR_USAGE`` on a bad address."""
    original = text
    s = (text if text is not None else "127.0.0.1").strip()
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", s)
    if scheme:
        name = scheme.group(1).lower()
        if name == "tls":
            raise _usage("tls:// addresses are not supported by the Python package yet (use tcp://)")
        if name != "tcp":
            raise _usage(f"unsupported address scheme '{name}://' (use tcp://)")
        s = s[scheme.end() :]
    stream: Optional[str] = None
    if "/" in s:
        s, stream = s.split("/", 1)
        stream = stream.rstrip("/") or None
    if stream is not None:
        size = len(stream.encode("utf-8"))
        if size > MAX_STREAM_NAME_BYTES:
            raise _usage(f"stream name '{stream}' is {size} bytes of UTF-8 (at most {MAX_STREAM_NAME_BYTES})")
        if "/" in stream or any(ord(c) < 0x20 or ord(c) == 0x7F for c in stream):
            raise _usage(f"stream name {stream!r} contains '/' or control characters")
    port_text: Optional[str] = None
    v6 = re.match(r"^\[([^\]]+)\](?::(.*))?$", s)
    if v6:
        host, port_text = v6.group(1), v6.group(2)
    elif s.count(":") > 1:
        host = s  # bare IPv6, no port
    elif ":" in s:
        host, port_text = s.rsplit(":", 1)
    else:
        host = s
    host = host or "127.0.0.1"
    port = default_port
    if port_text is not None:
        if not re.fullmatch(r"\d{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
            raise _usage(f"invalid port '{port_text}' in address '{original}' (expected 1..65535)")
        port = int(port_text)
    return Address(host, port, stream)
