"""The framecast reader: ``connect()`` returns a Client, an iterator of Frames over one or more connections.

A connection's handshake and framing are in ``_reader_connection.py`` (over ``_wire.py``, shared with the
publisher); this module is the public facade: options, reconnecting (its loop is the Client's base class, in
``_reader_reconnect.py``), ACKing the frame handed out before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, Iterator, Optional, Union

from . import protocol as P
from ._meta import DEFAULT_MAX_META_BYTES
from ._reader_connection import AUTO_HELLO_DELAY, ReaderConnection
from ._playback import playback_of, view_of
from ._reader_reconnect import ReaderReconnect
from ._reconnect import RECONNECT_INITIAL_DELAY, RECONNECT_MAX_DELAY, backoff_delay  # noqa: F401  (re-exported)
from ._wire import now_ms
from .address import Address, parse_address
from .errors import RETRYABLE_CODES, FramecastError
from .frame import Annotation, ClockEstimate, End, Frame, Status

__all__ = ["Client", "Frame", "ClockEstimate", "Status", "End", "Annotation", "connect", "AUTO_HELLO_DELAY"]

# Their names before the connection layer moved out of this module, for code that imported them from here.
_Connection = ReaderConnection
_now_ms = now_ms

_PROTOCOLS = ("auto", "native", "legacy")


class Client(ReaderReconnect):
    """A framecast stream: iterate over it for Frames; use it as a context manager (or call ``close()``).

    See ``connect()`` for the parameters. Attributes after connecting: ``protocol`` (``native`` or ``legacy``),
    ``server`` (the server's software name, native only), ``clock`` (ClockEstimate, native only),
    ``acknowledging`` (ACK flow control in use), ``status`` (last STATUS), ``end`` (End once the stream ended),
    ``frames``, ``bad_frames``, ``reconnects``, ``gap_seconds``, ``latest_annotations`` (each analyzer's newest
    Annotation, with ``annotations=True``).
    """

    def __init__(
        self,
        address: Union[str, Address],
        token: Optional[str] = None,
        reconnect: bool = False,
        timeout: Optional[float] = 10.0,
        protocol: str = "auto",
        *,
        ack: bool = True,
        max_frame_bytes: int = P.MAX_FRAME_BYTES,
        reconnect_timeout: float = 60.0,
        on_status: Optional[Callable[[Status], None]] = None,
        on_reconnect: Optional[Callable[[int, float, str], None]] = None,
        meta: bool = False,
        annotations: bool = False,
        annotate: bool = False,
        max_meta_bytes: int = DEFAULT_MAX_META_BYTES,
        on_annotation: Optional[Callable[[Annotation], None]] = None,
        on_annotation_refused: Optional[Callable[[Status], None]] = None,
        at: Union[None, str, float, datetime] = None,
        speed: float = 1.0,
        width: Optional[int] = None,
        quality: Optional[int] = None,
        fps: Optional[float] = None,
    ) -> None:
        if protocol not in _PROTOCOLS:
            raise FramecastError("ERR_USAGE", f"protocol must be one of {', '.join(_PROTOCOLS)}, got {protocol!r}")
        self.address = address if isinstance(address, Address) else parse_address(address)
        if protocol == "legacy" and self.address.named:
            raise FramecastError(
                "ERR_USAGE", f"the seed framing (protocol 'legacy') has no named streams: '{self.address.stream}'"
            )
        if token is not None and len(token.encode("utf-8")) > P.MAX_TOKEN_BYTES:
            raise FramecastError("ERR_USAGE", f"token is over {P.MAX_TOKEN_BYTES} bytes of UTF-8")
        if not 64 <= max_frame_bytes <= 1 << 30:
            raise FramecastError("ERR_USAGE", "max_frame_bytes must be from 64 bytes to 1 GiB")
        self.token = token
        self.reconnect = reconnect
        self.timeout = timeout if timeout else None
        self.requested_protocol = protocol
        self.ack = ack
        self.max_frame_bytes = max_frame_bytes
        self.reconnect_timeout = reconnect_timeout
        self.on_status = on_status
        self.on_reconnect = on_reconnect
        self.meta_flags = (
            (P.FLAG_META if meta else 0)
            | (P.FLAG_ANNOTATIONS if annotations else 0)
            | (P.FLAG_ANNOTATE if annotate else 0)
        )
        self.max_meta_bytes = max_meta_bytes
        self.playback = playback_of(at, speed)
        self.view = view_of(width, quality, fps)
        self.on_annotation = on_annotation
        self.on_annotation_refused = on_annotation_refused
        #: Each analyzer's newest annotation received (kept across reconnects).
        self.latest_annotations: Dict[str, Annotation] = {}
        self.frames = 0
        self.reconnects = 0
        self.gap_seconds = 0.0
        self.end: Optional[End] = None
        self._bad_before = 0
        self._conn: Optional[ReaderConnection] = None
        self._pending_ack: Optional[int] = None
        self._closed = False
        if reconnect:
            self._reconnect("first connection", first=True)
        else:
            self._conn = self._open()

    # -- connection state --------------------------------------------------------------------------------

    @property
    def protocol(self) -> Optional[str]:
        """``native`` or ``legacy``: how the server of the current connection speaks (None before one)."""
        return self._conn.protocol if self._conn else None

    @property
    def server(self) -> Optional[str]:
        """The server's software name from its WELCOME (native only)."""
        return self._conn.server if self._conn else None

    @property
    def clock(self) -> Optional[ClockEstimate]:
        """The server's clock relative to ours, from the handshake (native only)."""
        return self._conn.clock if self._conn else None

    @property
    def acknowledging(self) -> bool:
        """True when the server agreed to ACK flow control on this connection."""
        return bool(self._conn and self._conn.acking)

    @property
    def status(self) -> Optional[Status]:
        """The last STATUS the server sent on this connection."""
        return self._conn.status if self._conn else None

    @property
    def bad_frames(self) -> int:
        """Frames skipped because they were not whole JPEGs, over all connections."""
        return self._bad_before + (self._conn.bad_frames if self._conn else 0)

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called or the stream ended."""
        return self._closed

    def _open(self) -> ReaderConnection:
        conn = ReaderConnection(
            self.address,
            self.token,
            self.timeout,
            self.requested_protocol,
            self.ack,
            self.max_frame_bytes,
            self.meta_flags,
            self.max_meta_bytes,
            self.playback,
            self.view,
        )
        conn.on_status = self._status
        conn.on_annotation = self._annotation
        conn.open()
        return conn

    def _status(self, status: Status) -> None:
        if status.code == 4 and self.on_annotation_refused is not None:
            self.on_annotation_refused(status)
        if self.on_status is not None:
            self.on_status(status)

    def _annotation(self, annotation: Annotation) -> None:
        self.latest_annotations[annotation.analyzer] = annotation
        if self.on_annotation is not None:
            self.on_annotation(annotation)

    def annotate(self, frame: Union[Frame, int], analyzer: str, data: Dict[str, Any]) -> None:
        """Sends ``data`` (a dict) as ``analyzer``'s annotation of ``frame`` (a Frame read here, or its seq); needs
        ``annotate=True``. Checked first: FramecastError ``ERR_BAD_META`` (not a dict, over ``max_meta_bytes``,
        deeper than 32, a bad name), ``ERR_USAGE``, ``ERR_PROTOCOL`` (the server takes none), ``ERR_CLOSED``. A
        refusal by the server (409 an old frame, 429 over the rate) comes later to ``on_annotation_refused``."""
        seq = frame.seq if isinstance(frame, Frame) else frame
        if not isinstance(seq, int) or not 0 <= seq <= 0xFFFFFFFF:
            raise ValueError(f"annotate() takes a Frame or its seq (0..2**32-1), not {frame!r}")
        if self._closed or self._conn is None:
            raise FramecastError("ERR_CLOSED", "the client is closed: cannot annotate")
        self._conn.annotate(seq, analyzer, data)

    # -- iteration ---------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        frame = self.read()
        if frame is None:
            raise StopIteration
        return frame

    def read(self) -> Optional[Frame]:
        """The next frame, or None once the stream ended (or the client was closed). Acknowledges the frame
        returned before (ACK flow control: the server then sends a fresh one)."""
        if self._closed or self._conn is None:
            return None
        if self._pending_ack is not None:
            self._conn.ack(self._pending_ack)
            self._pending_ack = None
        while True:
            conn = self._conn
            try:
                frame = conn.read_frame()
            except FramecastError as e:
                if self.reconnect and e.code in RETRYABLE_CODES and not self._closed:
                    self._reconnect(str(e))
                    continue
                self.close()
                raise
            if frame is None:
                end = conn.end
                if self.reconnect and end is not None and end.name in ("shutdown", "closed"):
                    self._reconnect(f"stream ended ({end.name})")
                    continue
                self.end = end
                self.close()
                return None
            self.frames += 1
            self._pending_ack = frame.seq
            return frame

    def close(self) -> None:
        """Closes the connection; iteration then stops. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self.protocol or "connecting")
        return f"<framecast.Client {self.address} {state}>"


def connect(
    address: Union[str, Address] = "127.0.0.1:9999",
    token: Optional[str] = None,
    reconnect: bool = False,
    timeout: Optional[float] = 10.0,
    protocol: str = "auto",
    **options: Any,
) -> Client:
    """Connects to a framecast server (or a seed ``servidor.py``) and returns a Client, an iterator of Frames.

    - ``address``: ``HOST[:PORT][/STREAM]`` (port 9999 by default; a stream other than ``default`` needs a
      server that speaks protocol version 2).
    - ``token``: the server's ``--token`` (native protocol only).
    - ``reconnect``: when the server goes away, retry with backoff (0.25 s doubling to 5 s) and go on
      (``reconnect_timeout``, default 60 s, bounds the time without a server; 0 retries forever).
    - ``timeout``: seconds to connect, to get an answer to the hello, and of silence once frames flow
      (None or 0: wait forever). A client waiting for a place on a full server is not timed out.
    - ``protocol``: ``auto`` (native hello, seed framing when the server speaks first without the native
      preamble), ``native`` (a framecast server only) or ``legacy`` (send nothing, read the seed framing).

    Keyword options: ``ack`` (default True: ACK flow control), ``max_frame_bytes`` (default 16 MiB),
    ``reconnect_timeout``, ``on_status(Status)``, ``on_reconnect(attempt, delay_s, reason)``; metadata and
    annotations (native only): ``meta`` (each frame's metadata as ``frame.meta``), ``annotations`` (analyzers'
    annotations to ``on_annotation(Annotation)`` and ``latest_annotations``), ``annotate`` (``annotate()`` may
    send them; refusals go to ``on_annotation_refused(Status)``), ``max_meta_bytes`` (default 65536).
    Playback of the server's recording (native only): ``at`` (a ``datetime``, an ISO 8601 string such as
    ``"2026-12-07T03:00:00Z"``, or seconds since the epoch) and ``speed`` (0.1-16, default 1): the frames keep
    their recorded capture times, and the iteration ends (``end.reason == "eof"``) at the recording's end.
    Another size or rate (native only): ``width`` (16-16384, snapped down to multiples of 16, never over the
    stream's), ``quality`` (1-100), ``fps`` (0.1-1000): made once per size on the server for all its viewers.
    Raises FramecastError (with a ``.code``) when it cannot connect or is refused.
    """
    return Client(address, token=token, reconnect=reconnect, timeout=timeout, protocol=protocol, **options)
