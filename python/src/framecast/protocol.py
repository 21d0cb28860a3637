"""framecast's wire formats as pure functions (no sockets): see docs/PROTOCOL.md in the framecast repository.

Everything is big-endian; times are float64 milliseconds since the Unix epoch on the sender's clock.
"""

from __future__ import annotations

import struct
from typing import Dict, NamedTuple, Optional, Tuple

__all__ = [
    "MAGIC",
    "VERSION",
    "NAMED_STREAM_VERSION",
    "FLAG_ACK",
    "FLAG_PUBLISH",
    "FLAG_META",
    "FLAG_ANNOTATIONS",
    "FLAG_ANNOTATE",
    "FLAG_PLAYBACK",
    "FLAG_VIEW",
    "META",
    "META_METADATA",
    "META_ANNOTATION",
    "MAX_META_WIRE_BYTES",
    "WELCOME",
    "FRAME",
    "STATUS",
    "END",
    "ERROR",
    "ACK",
    "MAX_FRAME_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_TOKEN_BYTES",
    "MAX_STREAM_NAME_BYTES",
    "ACK_WINDOW",
    "MAX_ACK_WINDOW",
    "ERROR_CODE_NAMES",
    "END_REASONS",
    "STATUS_CODES",
    "Envelope",
    "encode_hello",
    "encode_ack",
    "encode_publish_hello",
    "encode_frame_prefix",
    "encode_end",
    "encode_meta",
    "decode_meta",
    "decode_ack",
    "decode_preamble",
    "decode_envelope",
    "body_limit",
    "error_code_name",
    "ack_window",
]

#: The 4 bytes that open a client's hello and the server's preamble.
MAGIC = b"FCST"
#: The protocol version of a hello without a stream name.
VERSION = 1
#: The hello version that carries a stream name (1 byte length + UTF-8 name after the token).
NAMED_STREAM_VERSION = 2
#: Hello flag: the client acknowledges frames (ACK flow control).
FLAG_ACK = 0x01
#: Hello flag: the client is a publisher (it sends FRAMEs, the server ACKs them); echoed in WELCOME's flags.
FLAG_PUBLISH = 0x02

#: Hello flag: a viewer receives each frame's metadata (a META just before its FRAME); a publisher sends it.
FLAG_META = 0x04
#: Hello flag: a viewer receives analyzers' annotations (META kind 2).
FLAG_ANNOTATIONS = 0x08
#: Hello flag: the client sends annotations (META kind 2) of frames it received.
FLAG_ANNOTATE = 0x10
#: HELLO flag (version 2): play the stream's recording back; the hello ends with start (float64 ms since the
#: epoch) and speed (float64, 0.1..16).
FLAG_PLAYBACK = 0x20
#: HELLO flag (version 2): another width, quality or rate; the hello ends with width (uint16, 0 = the stream's),
#: quality (uint8, 0 = the stream's), 0, fps (float32, 0 = every frame), after the playback block if any.
FLAG_VIEW = 0x40

# Message types (envelope byte 0).
WELCOME, FRAME, STATUS, END, ERROR, ACK, META = 1, 2, 3, 4, 5, 6, 7
_KNOWN_TYPES = frozenset({WELCOME, FRAME, STATUS, END, ERROR, META})
#: META kinds: a frame's metadata (from its publisher), an analyzer's annotation of a frame.
META_METADATA, META_ANNOTATION = 1, 2
#: Largest META body (JSON) a reader accepts (a stream's own ``maxMetaBytes`` is at most this).
MAX_META_WIRE_BYTES = 1024 * 1024

#: Largest FRAME body (JPEG) and seed frame length accepted by default: 16 MiB.
MAX_FRAME_BYTES = 16 * 1024 * 1024
#: Largest WELCOME/STATUS/END/ERROR body accepted.
MAX_TEXT_BYTES = 4096
#: Largest type-specific header accepted (later versions may append fields; the server's cap too).
MAX_HEADER_BYTES = 1024
#: Longest token a hello may carry (bytes of UTF-8).
MAX_TOKEN_BYTES = 1024
#: Longest stream name (bytes of UTF-8).
MAX_STREAM_NAME_BYTES = 64
#: Frames the server keeps unacknowledged by default, and the most a client may ask for.
ACK_WINDOW = 2
MAX_ACK_WINDOW = 32

_HELLO = struct.Struct(">4sBBHd")
_PREAMBLE = struct.Struct(">4sB3x")
_ENVELOPE = struct.Struct(">BBHI")
_ACK_WITH_WINDOW = struct.Struct(">BBHIIHH")
_FRAME_PREFIX = struct.Struct(">BBHIIHHddd")
_END = struct.Struct(">BBHIHH")
_META_HEADER = struct.Struct(">IBBHd")

#: The server's numeric ERROR codes and the ``FramecastError.code`` each one raises.
ERROR_CODE_NAMES: Dict[int, str] = {
    1: "ERR_PROTOCOL",  # bad hello
    2: "ERR_PROTOCOL",  # unsupported protocol version
    3: "ERR_AUTH",  # the server requires a token and the hello had none
    4: "ERR_AUTH",  # wrong token
    5: "ERR_SERVER_FULL",  # no place and the waiting line is full
    6: "ERR_TIMEOUT",  # no complete hello within the handshake time
    7: "ERR_SHUTTING_DOWN",
    8: "ERR_SERVER_INTERNAL",
    9: "ERR_PROTOCOL",  # the client sent something other than an ACK
    # Named streams (protocol version 2): the code is provisional until the server documents it.
    10: "ERR_UNKNOWN_STREAM",
    # Publishing (hello flag 0x02).
    11: "ERR_BAD_FRAME",  # a publisher's frame is not a whole JPEG with a readable size, or over the cap
    12: "ERR_PUBLISHER_ACTIVE",  # the stream already has a publisher
    13: "ERR_NOT_PUBLISHABLE",  # the stream's source is not `publisher`
    14: "ERR_PUBLISHER_IDLE",  # no complete frame for 10 s: the server closed the publisher
    15: "ERR_BAD_META",  # a publisher's metadata is not a JSON object, too large or too deep
    16: "ERR_NO_RECORDING",  # a playback hello asked for a time with no recording
}

#: END reasons (docs/PROTOCOL.md) by number.
END_REASONS: Dict[int, str] = {1: "eof", 2: "stopped", 3: "source-error", 4: "shutdown", 5: "kicked", 6: "removed"}

#: STATUS codes by number.
STATUS_CODES: Dict[int, str] = {1: "waiting", 2: "no-signal", 3: "signal-restored", 4: "annotation-refused"}


def error_code_name(server_code: int) -> str:
    """The ``FramecastError.code`` for a server ERROR code (``ERR_REFUSED`` for codes this client does not know)."""
    return ERROR_CODE_NAMES.get(server_code, "ERR_REFUSED")


def _utf8(text: str, what: str, limit: int) -> bytes:
    data = text.encode("utf-8")
    if len(data) > limit:
        raise ValueError(f"{what} is {len(data)} bytes of UTF-8, over the limit of {limit}")
    return data


def encode_hello(
    token: Optional[str] = None,
    t0: float = 0.0,
    flags: int = FLAG_ACK,
    stream: Optional[str] = None,
    playback: Optional[Tuple[float, float]] = None,
    view: Optional[Tuple[int, int, float]] = None,
) -> bytes:
    """A client HELLO.

    With ``playback`` = (start in ms since the epoch, speed 0.1..16) it is a version-2 hello (the name may be
    empty: the default stream) with flag 0x20 and the two float64 after the name.

    Without ``stream`` (or with ``"default"``) it is the version-1 hello: magic, version 1, flags, token length,
    t0, token. With a stream name it is the same bytes with version 2, followed by the name's length (1 byte,
    1..64) and the name in UTF-8.
    """
    tok = _utf8(token or "", "token", MAX_TOKEN_BYTES)
    name = None if stream is None or stream == "default" else _utf8(stream, "stream name", MAX_STREAM_NAME_BYTES)
    if name is not None and len(name) == 0:
        raise ValueError("stream name is empty")
    if playback is not None:
        start, speed = float(playback[0]), float(playback[1])
        if start != start or abs(start) > 8.64e15 or not 0.1 <= speed <= 16:
            raise ValueError("playback needs a time and a speed from 0.1 to 16")
        flags |= FLAG_PLAYBACK
        name = name if name is not None else b""
    else:
        flags &= ~FLAG_PLAYBACK
    if view is not None:
        width, quality, fps = int(view[0]), int(view[1]), float(view[2])
        if not (width == 0 or 16 <= width <= 16384) or not 0 <= quality <= 100 or not (fps == 0 or 0.1 <= fps <= 1000):
            raise ValueError("a view is a width of 16-16384, a quality of 1-100 and a rate of 0.1-1000 (0: the stream's)")
        flags |= FLAG_VIEW
        name = name if name is not None else b""
    else:
        flags &= ~FLAG_VIEW
    version = VERSION if name is None else NAMED_STREAM_VERSION
    out = _HELLO.pack(MAGIC, version, flags & 0xFF, len(tok), float(t0)) + tok
    if name is not None:
        out += bytes((len(name),)) + name
    if playback is not None:
        out += struct.pack(">dd", float(playback[0]), float(playback[1]))
    if view is not None:
        out += struct.pack(">HBxf", int(view[0]), int(view[1]), float(view[2]))
    return out


def encode_ack(seq: int, window: Optional[int] = None) -> bytes:
    """An ACK of frame ``seq`` (12 bytes), or with a ``window`` request (16 bytes; clamped to 1..32)."""
    if window is None:
        return _ENVELOPE.pack(ACK, 0, 4, 0) + struct.pack(">I", seq & 0xFFFFFFFF)
    w = max(1, min(MAX_ACK_WINDOW, int(window)))
    return _ACK_WITH_WINDOW.pack(ACK, 0, 8, 0, seq & 0xFFFFFFFF, w, 0)


def encode_publish_hello(
    token: Optional[str] = None, t0: float = 0.0, stream: Optional[str] = None, flags: int = FLAG_PUBLISH
) -> bytes:
    """A publisher's HELLO: always version 2 with flags 0x02 (Publish; ``flags`` may add 0x04, Meta), the token,
    then the stream's name (1 byte length + the name; an empty name, length 0, is the server's default stream)."""
    tok = _utf8(token or "", "token", MAX_TOKEN_BYTES)
    name = _utf8(stream or "", "stream name", MAX_STREAM_NAME_BYTES)
    out = _HELLO.pack(MAGIC, NAMED_STREAM_VERSION, (flags | FLAG_PUBLISH) & 0xFF, len(tok), float(t0)) + tok
    return out + bytes((len(name),)) + name


def encode_frame_prefix(
    seq: int, width: int, height: int, captured_at: float, encoded_at: float, sent_at: float, body_length: int
) -> bytes:
    """The 40 bytes before a FRAME's JPEG: envelope (type 2, header 32, body ``body_length``) and the header
    (seq u32, width u16, height u16, capturedAt, encodedAt, sentAt as float64 ms)."""
    return _FRAME_PREFIX.pack(
        FRAME,
        0,
        32,
        body_length,
        seq & 0xFFFFFFFF,
        width & 0xFFFF,
        height & 0xFFFF,
        float(captured_at),
        float(encoded_at),
        float(sent_at),
    )


def encode_end(reason: int = 1, message: str = "") -> bytes:
    """An END message (reason u16 + 2 reserved bytes; the body is an optional line of text)."""
    text = _utf8(message, "END message", MAX_TEXT_BYTES)
    return _END.pack(END, 0, 4, len(text), reason & 0xFFFF, 0) + text


def encode_meta(seq: int, kind: int, name: str, captured_at: float, json_bytes: bytes) -> bytes:
    """A META message: envelope (type 7, header 16 + N, body = the JSON), seq u32, kind u8, name length N u8,
    2 reserved bytes, capturedAt float64, the name (ASCII, N <= 64; empty for metadata), then the JSON."""
    raw = name.encode("ascii")
    if len(raw) > 64:
        raise ValueError(f"analyzer name is {len(raw)} bytes, over 64")
    header = _META_HEADER.pack(seq & 0xFFFFFFFF, kind & 0xFF, len(raw), 0, float(captured_at)) + raw
    return _ENVELOPE.pack(META, 0, len(header), len(json_bytes)) + header + json_bytes


def decode_meta(header: bytes) -> Tuple[int, int, str, float]:
    """(seq, kind, name, capturedAt) of a META's header (ValueError when the name overruns it)."""
    seq, kind, n, _reserved, captured_at = _META_HEADER.unpack_from(header)
    if _META_HEADER.size + n > len(header):
        raise ValueError(f"META names {n} bytes in a header of {len(header)}")
    return seq, kind, header[_META_HEADER.size : _META_HEADER.size + n].decode("latin-1"), captured_at


def decode_ack(header: bytes) -> Tuple[int, Optional[int]]:
    """(seq, window) of an ACK's header; window is None in a 4-byte header."""
    (seq,) = struct.unpack_from(">I", header)
    window = struct.unpack_from(">H", header, 4)[0] if len(header) >= 6 else None
    return seq, window


def decode_preamble(data: bytes) -> Tuple[bytes, int]:
    """(magic, version) of an 8-byte PREAMBLE."""
    magic, version = _PREAMBLE.unpack(data)
    return magic, version


class Envelope(NamedTuple):
    """The 8 bytes before every native message."""

    type: int
    flags: int
    header_length: int
    body_length: int

    @property
    def known(self) -> bool:
        return self.type in _KNOWN_TYPES


def decode_envelope(data: bytes) -> Envelope:
    """Decodes an 8-byte envelope (no limits checked: see ``body_limit``)."""
    return Envelope(*_ENVELOPE.unpack(data))


def body_limit(message_type: int, max_frame_bytes: int = MAX_FRAME_BYTES) -> int:
    """The largest body a reader buffers for a message type (unknown types are skipped, not buffered)."""
    if message_type == FRAME:
        return max_frame_bytes
    return MAX_META_WIRE_BYTES if message_type == META else MAX_TEXT_BYTES


def ack_window(rtt_ms: Optional[float], interval_ms: Optional[float]) -> int:
    """The ACK window to ask for: 2 + floor(rtt / frame interval), at most 32 (2 when either is unknown)."""
    if rtt_ms is None or interval_ms is None or not rtt_ms > 0 or not interval_ms > 0:
        return ACK_WINDOW
    return min(MAX_ACK_WINDOW, ACK_WINDOW + int(rtt_ms / interval_ms))
