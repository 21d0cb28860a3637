"""The framecast reader: ``connect()`` returns a Client, an iterator of Frames over one or more connections."""

from __future__ import annotations

import base64
import binascii
import importlib
import random
import select
import socket
import struct
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Optional, Tuple, Union, cast

from . import protocol as P
from .address import Address, parse_address
from .errors import RETRYABLE_CODES, FramecastError, OpenCVUnavailableError, ServerError
from .jpeg import jpeg_size, looks_like_jpeg

if TYPE_CHECKING:  # numpy is optional: only for the type of Frame.image()
    import numpy

__all__ = ["Client", "Frame", "ClockEstimate", "Status", "End", "connect", "AUTO_HELLO_DELAY"]

#: In ``auto`` mode, how long the client waits for a seed server to speak first before it says hello
#: (a framecast server waits 100 ms for the hello before it decides a client is a seed client).
AUTO_HELLO_DELAY = 0.040
#: Reconnect backoff: first delay, doubling per failed attempt, up to the maximum (seconds).
RECONNECT_INITIAL_DELAY = 0.25
RECONNECT_MAX_DELAY = 5.0

_PROTOCOLS = ("auto", "native", "legacy")
_FRAME_HEADER = struct.Struct(">IHHddd")
_MIN_HEADER = {P.WELCOME: 16, P.FRAME: 32, P.STATUS: 8, P.END: 4, P.ERROR: 4}


def _now_ms() -> float:
    return time.time() * 1000.0


class ClockEstimate(NamedTuple):
    """The server's clock relative to ours, from the hello/welcome exchange (NTP's formula)."""

    #: Server clock minus client clock, ms.
    offset_ms: float
    #: Round trip of the exchange minus the server's processing time, ms; the offset is good to about ±rtt/2.
    rtt_ms: float
    #: The server is on this host: one clock, latency needs no correction.
    same_host: bool


class Status(NamedTuple):
    """A STATUS message: ``name`` is ``waiting`` (``value`` = position in line), ``no-signal``, ``signal-restored``."""

    code: int
    name: str
    value: int
    message: str


class End(NamedTuple):
    """How a stream ended cleanly: the server's END reason, or ``closed`` (reason 0) for the seed framing."""

    reason: int
    name: str
    message: str


class Frame:
    """One received frame.

    ``jpeg`` is the whole JPEG (SOI to EOI). ``seq`` is the server's sequence number (native) or counted from 0
    on each connection (seed framing). ``captured_at`` (server clock, ms since the epoch) and ``latency_ms``
    (capture on the server to arrival here, clock offset applied across machines) are None for the seed framing.
    """

    __slots__ = (
        "seq",
        "width",
        "height",
        "jpeg",
        "captured_at",
        "encoded_at",
        "sent_at",
        "received_at",
        "latency_ms",
        "wire_bytes",
    )

    def __init__(
        self,
        seq: int,
        width: int,
        height: int,
        jpeg: bytes,
        captured_at: Optional[float] = None,
        encoded_at: Optional[float] = None,
        sent_at: Optional[float] = None,
        received_at: float = 0.0,
        latency_ms: Optional[float] = None,
        wire_bytes: int = 0,
    ) -> None:
        self.seq = seq
        self.width = width
        self.height = height
        self.jpeg = jpeg
        self.captured_at = captured_at
        self.encoded_at = encoded_at
        self.sent_at = sent_at
        self.received_at = received_at
        self.latency_ms = latency_ms
        self.wire_bytes = wire_bytes

    def image(self) -> "numpy.ndarray[Any, numpy.dtype[numpy.uint8]]":
        """The frame as a BGR numpy array (``cv2.imdecode``). Raises OpenCVUnavailableError (an ImportError)
        when OpenCV or numpy is not installed."""
        try:
            cv2 = importlib.import_module("cv2")
            np = importlib.import_module("numpy")
        except ImportError as e:
            raise OpenCVUnavailableError(
                "Frame.image() needs OpenCV and numpy (Debian/Ubuntu: apt-get install python3-opencv; "
                f"pip: pip install opencv-python): {e}",
                e,
            ) from e
        img = cv2.imdecode(np.frombuffer(self.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise FramecastError("ERR_BAD_FRAME", f"frame {self.seq}: OpenCV could not decode the JPEG")
        return cast("numpy.ndarray[Any, numpy.dtype[numpy.uint8]]", img)

    def __repr__(self) -> str:
        lat = "None" if self.latency_ms is None else f"{self.latency_ms:.1f}"
        return f"Frame(seq={self.seq}, {self.width}x{self.height}, {len(self.jpeg)} B, latency_ms={lat})"


def _is_same_host(sock: socket.socket) -> bool:
    try:
        peer = str(sock.getpeername()[0])
        local = str(sock.getsockname()[0])
    except OSError:
        return False
    if peer.startswith("::ffff:"):
        peer = peer[7:]
    # Connecting to one of our own addresses makes the kernel pick that same address as the local end.
    return peer.startswith("127.") or peer == "::1" or peer == local


class _Connection:
    """One TCP connection: the handshake (native hello, or seed-framing detection), then frames."""

    def __init__(
        self,
        address: Address,
        token: Optional[str],
        timeout: Optional[float],
        protocol: str,
        ack: bool,
        max_frame_bytes: int,
    ) -> None:
        self.address = address
        self.where = str(Address(address.host, address.port))
        self.token = token
        self.timeout = timeout
        self.requested = protocol
        self.want_ack = ack
        self.max_frame_bytes = max_frame_bytes
        self.sock: Optional[socket.socket] = None
        self.buf = bytearray()
        self.pos = 0
        self.bytes_in = 0
        #: ``native`` or ``legacy`` once the handshake is done.
        self.protocol: Optional[str] = None
        self.version: Optional[int] = None
        self.server: Optional[str] = None
        self.clock: Optional[ClockEstimate] = None
        self.acking = False
        self.fallback = False
        self.waiting = False
        self.end: Optional[End] = None
        self.status: Optional[Status] = None
        self.on_status: Optional[Callable[[Status], None]] = None
        self.bad_frames = 0
        self.seed_seq = 0
        self.hello_at = 0.0
        self._last_captured: Optional[float] = None
        self._interval: Optional[float] = None

    # -- socket reading ------------------------------------------------------------------------------

    def _recv(self, want: int) -> bytes:
        sock = self.sock
        assert sock is not None
        while True:
            try:
                chunk = sock.recv(max(65536, min(want, 1 << 20)))
            except socket.timeout:
                if self.waiting:
                    continue  # waiting for a place in line: silence is expected
                raise FramecastError(
                    "ERR_TIMEOUT", f"stream from {self.where} stalled: no data for {self.timeout:g} s"
                ) from None
            except (ConnectionResetError, BrokenPipeError) as e:
                if self.fallback and self.pos == len(self.buf) and self.seed_seq > 0:
                    # A seed server closes with our unread hello in its buffer: the kernel sends a reset.
                    return b""
                raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None
            except OSError as e:
                raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None
            self.bytes_in += len(chunk)
            return chunk

    def _fill(self, n: int) -> bool:
        """Buffers ``n`` unread bytes; False when the connection closed first."""
        have = len(self.buf) - self.pos
        if have >= n:
            return True
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        while len(self.buf) < n:
            chunk = self._recv(n - len(self.buf))
            if not chunk:
                return False
            self.buf += chunk
        return True

    def _take(self, n: int) -> bytes:
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    @property
    def _at_boundary(self) -> bool:
        return self.pos == len(self.buf)

    def _read(self, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes inside a message; the connection closing first is a lost connection."""
        if not self._fill(n):
            have = len(self.buf) - self.pos
            raise FramecastError(
                "ERR_CONNECTION_LOST",
                f"connection to {self.where} lost inside a {what} (got {have} of {n} bytes)",
            )
        return self._take(n)

    def _skip(self, n: int, what: str) -> None:
        while n > 0:
            step = min(n, 1 << 20)
            self._read(step, what)
            n -= step

    # -- handshake -------------------------------------------------------------------------------------

    def open(self) -> None:
        addr = self.address
        try:
            sock = socket.create_connection((addr.host, addr.port), timeout=self.timeout)
        except socket.timeout:
            raise FramecastError(
                "ERR_TIMEOUT", f"no answer from {self.where} within {self.timeout:g} s"
            ) from None
        except ConnectionRefusedError:
            raise FramecastError(
                "ERR_CONNECT", f"connection refused by {self.where}: is framecast serve running there?"
            ) from None
        except OSError as e:
            raise FramecastError("ERR_CONNECT", f"cannot connect to {self.where}: {e.strerror or e}") from None
        self.sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._handshake()
        except BaseException:
            self.close()
            raise

    def _hello(self) -> None:
        assert self.sock is not None
        self.hello_at = _now_ms()
        hello = P.encode_hello(self.token, self.hello_at, P.FLAG_ACK if self.want_ack else 0, self.address.stream)
        try:
            self.sock.sendall(hello)
        except OSError as e:
            raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None

    def _handshake(self) -> None:
        assert self.sock is not None
        if self.requested == "legacy":
            self._settle_legacy()
            return
        said_hello = False
        if self.requested == "native":
            self._hello()
            said_hello = True
        else:
            # A seed server speaks first and never reads: a hello left unread in its buffer turns its final
            # close() into a reset that can destroy the last frames. A framecast server stays silent for its
            # hello grace (100 ms), so wait briefly for a seed server's first bytes before saying hello.
            readable, _, _ = select.select([self.sock], [], [], AUTO_HELLO_DELAY)
            if not readable:
                self._hello()
                said_hello = True
        try:
            got = self._fill(4)
        except FramecastError as e:
            if e.code == "ERR_TIMEOUT":
                raise FramecastError("ERR_TIMEOUT", f"{self.where} did not answer the native hello") from None
            raise
        if not got:
            what = "without answering the hello" if said_hello else "before sending anything"
            raise FramecastError("ERR_CONNECTION_LOST", f"{self.where} closed the connection {what}")
        if bytes(self.buf[self.pos : self.pos + 4]) == P.MAGIC:
            if not said_hello:
                self._hello()
            self._handshake_native()
            return
        if self.requested == "native":
            raise FramecastError(
                "ERR_PROTOCOL",
                f"{self.where} does not speak the native protocol (a seed server?); use protocol 'auto' or 'legacy'",
            )
        self.fallback = said_hello
        self._settle_legacy()

    def _settle_legacy(self) -> None:
        if self.address.named:
            raise FramecastError(
                "ERR_PROTOCOL",
                f"{self.where} speaks the seed framing, which has no named streams "
                f"(cannot serve '{self.address.stream}')",
            )
        self.protocol = "legacy"

    def _handshake_native(self) -> None:
        magic, version = P.decode_preamble(self._read(8, "preamble"))
        assert magic == P.MAGIC
        self.version = version
        sent = P.NAMED_STREAM_VERSION if self.address.named else P.VERSION
        if self.address.named and version == 1:
            raise FramecastError(
                "ERR_PROTOCOL",
                f"{self.where}: server speaks protocol v1 and cannot serve named streams "
                f"(asked for '{self.address.stream}')",
            )
        version_ok = 1 <= version <= sent
        while True:
            env, header, body = self._read_message()
            if env.type == P.ERROR:
                self._raise_error(header, body)
            if not version_ok:
                raise FramecastError(
                    "ERR_PROTOCOL", f"{self.where} answered with protocol version {version} (asked for {sent})"
                )
            if env.type != P.WELCOME:
                raise FramecastError("ERR_PROTOCOL", f"{self.where} sent a message before its welcome")
            t3 = _now_ms()
            t1, t2 = struct.unpack_from(">dd", header)
            offset = ((t1 - self.hello_at) + (t2 - t3)) / 2.0
            rtt = max(0.0, (t3 - self.hello_at) - (t2 - t1))
            assert self.sock is not None
            self.clock = ClockEstimate(offset, rtt, _is_same_host(self.sock))
            self.server = body.decode("utf-8", "replace")
            self.acking = self.want_ack and bool(env.flags & P.FLAG_ACK)
            self.protocol = "native"
            return

    def _read_message(self) -> Tuple[P.Envelope, bytes, bytes]:
        """The next message of a known type (unknown types are skipped); the connection closing at a message
        boundary raises ERR_CONNECTION_LOST unless END came first (then it is never read)."""
        while True:
            if not self._fill(8):
                if self._at_boundary:
                    raise FramecastError(
                        "ERR_CONNECTION_LOST",
                        f"connection to {self.where} lost: the server closed without ending the stream",
                    )
                self._read(8, "message envelope")
            env = P.decode_envelope(self._take(8))
            if env.header_length > P.MAX_HEADER_BYTES:
                raise FramecastError(
                    "ERR_PROTOCOL",
                    f"message type {env.type} declares a {env.header_length}-byte header (limit {P.MAX_HEADER_BYTES})",
                )
            if not env.known:
                self._skip(env.header_length + env.body_length, f"message of type {env.type}")
                continue
            limit = P.body_limit(env.type, self.max_frame_bytes)
            if env.body_length > limit:
                code = "ERR_FRAME_TOO_LARGE" if env.type == P.FRAME else "ERR_PROTOCOL"
                raise FramecastError(
                    code, f"message type {env.type} declares {env.body_length} bytes (limit {limit})"
                )
            if env.header_length < _MIN_HEADER[env.type]:
                raise FramecastError(
                    "ERR_PROTOCOL",
                    f"message type {env.type} has a {env.header_length}-byte header "
                    f"(at least {_MIN_HEADER[env.type]})",
                )
            header = self._read(env.header_length, "message header")
            body = self._read(env.body_length, "message body")
            return env, header, body

    def _raise_error(self, header: bytes, body: bytes) -> None:
        (server_code,) = struct.unpack_from(">H", header)
        text = body.decode("utf-8", "replace") or f"error {server_code}"
        raise ServerError(
            P.error_code_name(server_code), f"{self.where} refused the connection: {text}", server_code
        )

    # -- frames ----------------------------------------------------------------------------------------

    def read_frame(self) -> Optional[Frame]:
        """The next frame, or None when the stream ended cleanly (``end`` says how)."""
        if self.end is not None:
            return None
        if self.protocol == "native":
            return self._read_native()
        return self._read_seed()

    def _read_native(self) -> Optional[Frame]:
        while True:
            env, header, body = self._read_message()
            t = env.type
            if t == P.FRAME:
                received = _now_ms()
                self.waiting = False
                seq, width, height, captured, encoded, sent = _FRAME_HEADER.unpack_from(header)
                self._observe(captured)
                if not looks_like_jpeg(body):
                    self.bad_frames += 1
                    self.ack(seq)
                    continue
                clock = self.clock
                offset = 0.0 if clock is None or clock.same_host else clock.offset_ms
                return Frame(
                    seq,
                    width,
                    height,
                    body,
                    captured,
                    encoded,
                    sent,
                    received,
                    received + offset - captured,
                    8 + env.header_length + env.body_length,
                )
            if t == P.STATUS:
                code, _reserved, value = struct.unpack_from(">HHI", header)
                status = Status(code, P.STATUS_CODES.get(code, "unknown"), value, body.decode("utf-8", "replace"))
                self.status = status
                self.waiting = code == 1
                if self.on_status is not None:
                    self.on_status(status)
            elif t == P.END:
                (reason,) = struct.unpack_from(">H", header)
                self.end = End(reason, P.END_REASONS.get(reason, "unknown"), body.decode("utf-8", "replace"))
                return None
            elif t == P.ERROR:
                self._raise_error(header, body)
            elif t == P.WELCOME:
                raise FramecastError("ERR_PROTOCOL", f"{self.where} sent a second welcome")

    def _read_seed(self) -> Optional[Frame]:
        while True:
            if not self._fill(4):
                if self._at_boundary:
                    if self.bytes_in == 0:
                        raise FramecastError(
                            "ERR_CONNECTION_LOST",
                            f"{self.where} closed the connection before sending any frame "
                            "(a server started with --token refuses seed-framed clients)",
                        )
                    self.end = End(0, "closed", "")
                    return None
                self._read(4, "seed frame's length prefix")
            (n,) = struct.unpack(">L", self._take(4))
            if n > self.max_frame_bytes:
                raise FramecastError(
                    "ERR_FRAME_TOO_LARGE",
                    f"seed frame length {n} bytes is over the limit of {self.max_frame_bytes} bytes",
                )
            payload = self._read(n, "seed frame")
            received = _now_ms()
            seq = self.seed_seq
            self.seed_seq += 1
            try:
                jpeg = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                self.bad_frames += 1
                continue
            size = jpeg_size(jpeg) if looks_like_jpeg(jpeg) else None
            if size is None:
                self.bad_frames += 1
                continue
            return Frame(seq, size[0], size[1], jpeg, None, None, None, received, None, 4 + n)

    def _observe(self, captured_at: float) -> None:
        last = self._last_captured
        self._last_captured = captured_at
        if last is None:
            return
        d = captured_at - last
        if 0 < d < 10_000:
            # Slow average: frames the server dropped for us make single gaps look long.
            self._interval = d if self._interval is None else self._interval * 0.9 + d * 0.1

    def ack(self, seq: int) -> None:
        """Tells the server we are done with frame ``seq`` (a no-op unless it agreed to ACK flow control)."""
        if not self.acking or self.sock is None:
            return
        window = P.ack_window(self.clock.rtt_ms if self.clock else None, self._interval)
        try:
            self.sock.sendall(P.encode_ack(seq, window))
        except OSError:
            pass  # the next read reports the lost connection

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class Client:
    """A framecast stream: iterate over it for Frames; use it as a context manager (or call ``close()``).

    See ``connect()`` for the parameters. Attributes after connecting: ``protocol`` (``native`` or ``legacy``),
    ``server`` (the server's software name, native only), ``clock`` (ClockEstimate, native only),
    ``acknowledging`` (ACK flow control in use), ``status`` (last STATUS), ``end`` (End once the stream ended),
    ``frames``, ``bad_frames``, ``reconnects``, ``gap_seconds``.
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
        self.frames = 0
        self.reconnects = 0
        self.gap_seconds = 0.0
        self.end: Optional[End] = None
        self._bad_before = 0
        self._conn: Optional[_Connection] = None
        self._pending_ack: Optional[int] = None
        self._closed = False
        if reconnect:
            self._reconnect("first connection", first=True)
        else:
            self._conn = self._open()

    # -- connection state --------------------------------------------------------------------------------

    @property
    def protocol(self) -> Optional[str]:
        return self._conn.protocol if self._conn else None

    @property
    def server(self) -> Optional[str]:
        return self._conn.server if self._conn else None

    @property
    def clock(self) -> Optional[ClockEstimate]:
        return self._conn.clock if self._conn else None

    @property
    def acknowledging(self) -> bool:
        return bool(self._conn and self._conn.acking)

    @property
    def status(self) -> Optional[Status]:
        return self._conn.status if self._conn else None

    @property
    def bad_frames(self) -> int:
        return self._bad_before + (self._conn.bad_frames if self._conn else 0)

    @property
    def closed(self) -> bool:
        return self._closed

    def _open(self) -> _Connection:
        conn = _Connection(
            self.address, self.token, self.timeout, self.requested_protocol, self.ack, self.max_frame_bytes
        )
        conn.on_status = self.on_status
        conn.open()
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._bad_before += self._conn.bad_frames
            self._conn.close()
        self._pending_ack = None

    def _reconnect(self, reason: str, first: bool = False) -> None:
        """Connects again with backoff (0.25 s doubling to 5 s, +-25% jitter) until a connection is back or
        ``reconnect_timeout`` seconds passed without one (0: never give up). The first connection of a
        client is tried at once, a lost one after the first delay."""
        if not first:
            self._drop()
        lost_at = time.monotonic()
        attempt = 0
        if not first:
            self._backoff(attempt, lost_at, reason)
            attempt += 1
        while True:
            try:
                self._conn = self._open()
            except FramecastError as e:
                if e.code not in RETRYABLE_CODES:
                    self._conn = None
                    self.close()
                    raise
                reason = str(e)
                self._backoff(attempt, lost_at, reason)
                attempt += 1
                continue
            if not first:
                self.reconnects += 1
                self.gap_seconds += time.monotonic() - lost_at
            return

    def _backoff(self, attempt: int, lost_at: float, reason: str) -> None:
        down = time.monotonic() - lost_at
        limit = self.reconnect_timeout
        if limit > 0 and down >= limit:
            self._conn = None
            self.close()
            raise FramecastError("ERR_CONNECT", f"{self.address} did not come back within {limit:g} s (last: {reason})")
        delay = min(RECONNECT_MAX_DELAY, RECONNECT_INITIAL_DELAY * 2**attempt) * (0.75 + random.random() * 0.5)
        if limit > 0:
            delay = max(0.0, min(delay, limit - down))
        if self.on_reconnect is not None:
            self.on_reconnect(attempt + 1, delay, reason)
        time.sleep(delay)

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
    ``reconnect_timeout``, ``on_status(Status)``, ``on_reconnect(attempt, delay_s, reason)``.
    Raises FramecastError (with a ``.code``) when it cannot connect or is refused.
    """
    return Client(address, token=token, reconnect=reconnect, timeout=timeout, protocol=protocol, **options)
