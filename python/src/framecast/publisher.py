"""framecast.Publisher: pushes JPEGs into a stream of a framecast server whose source is ``publisher``.

    import cv2, framecast

    cap = cv2.VideoCapture(0)
    with framecast.Publisher("127.0.0.1:9999/cam", token="s3cret") as pub:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            pub.send_image(img)

The wire format is docs/PROTOCOL.md, "Publishing (push ingest)": a version-2 hello with flag 0x02 (Publish),
then FRAME messages (the viewers' layout), each acknowledged by the server with an ACK; at most ``window``
frames (2) may be unacknowledged. Standard library only; ``send_image()`` needs OpenCV and numpy.
"""

from __future__ import annotations

import importlib
import random
import re
import select
import socket
import struct
import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Union

from . import protocol as P
from .address import Address, parse_address
from .client import RECONNECT_INITIAL_DELAY, RECONNECT_MAX_DELAY, _Connection, _now_ms
from .errors import RETRYABLE_CODES, FramecastError, OpenCVUnavailableError, ServerError
from .jpeg import jpeg_size, looks_like_jpeg

__all__ = ["Publisher", "MAX_PUBLISHED_FRAME_BYTES"]

#: The largest JPEG a framecast server takes from a publisher (16 MiB).
MAX_PUBLISHED_FRAME_BYTES = 16 * 1024 * 1024
#: Stream names a server accepts in a hello.
_STREAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: A lost publisher tries again after these (the server may still hold the old connection: "publisher active";
#: a source that stalled for 10 s was closed as idle).
_RETRY_LOST = RETRYABLE_CODES | {"ERR_PUBLISHER_ACTIVE", "ERR_PUBLISHER_IDLE"}
#: Anything the server sends a publisher is small; a larger declared message is a protocol error.
_MAX_MESSAGE_BYTES = 1 << 20
#: How long close() waits for the server's last ACKs and its close after END.
_GOODBYE_SECONDS = 2.0


class _PublishConnection(_Connection):
    """One publisher connection: the publish hello, then FRAMEs out and ACKs in (read without blocking)."""

    def __init__(self, address: Address, token: Optional[str], timeout: Optional[float]) -> None:
        super().__init__(address, token, timeout, "native", False, P.MAX_TEXT_BYTES)
        self.what = f"{self.where}/{address.stream or 'default'}"
        #: (seq, monotonic send time) of the frames sent and not acknowledged yet, oldest first.
        self.unacked: List[Tuple[int, float]] = []
        self.window = P.ACK_WINDOW
        self.on_accept: Callable[[int], None] = lambda n: None

    # -- handshake -------------------------------------------------------------------------------------

    def _handshake(self) -> None:
        sock = self.sock
        assert sock is not None
        self.hello_at = _now_ms()
        try:
            sock.sendall(P.encode_publish_hello(self.token, self.hello_at, self.address.stream))
        except OSError as e:
            raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None
        try:
            got = self._fill(8)
        except FramecastError as e:
            if e.code == "ERR_TIMEOUT":
                raise FramecastError("ERR_TIMEOUT", f"{self.where} did not answer the publish hello") from None
            raise
        if not got:
            raise FramecastError("ERR_CONNECTION_LOST", f"{self.where} closed the connection without answering")
        magic, version = P.decode_preamble(self._take(8))
        if magic != P.MAGIC:
            raise FramecastError(
                "ERR_PROTOCOL", f"{self.where} does not speak framecast's native protocol (a seed server?)"
            )
        self.version = version
        env, header, body = self._read_message()
        if env.type == P.ERROR:
            self._raise_error(header, body)
        if env.type != P.WELCOME:
            raise FramecastError("ERR_PROTOCOL", f"{self.where} sent a message before its welcome")
        if version < P.NAMED_STREAM_VERSION or not env.flags & P.FLAG_PUBLISH:
            raise FramecastError(
                "ERR_PROTOCOL", f"{self.where}: server does not take publishers (an older framecast?)"
            )
        self.server = body.decode("utf-8", "replace")
        self.protocol = "native"

    def _raise_error(self, header: bytes, body: bytes) -> None:
        (server_code,) = struct.unpack_from(">H", header)
        text = body.decode("utf-8", "replace") or f"error {server_code}"
        raise ServerError(P.error_code_name(server_code), f"{self.what} refused the publisher: {text}", server_code)

    # -- after the handshake -----------------------------------------------------------------------------

    def send_frame(self, seq: int, jpeg: bytes, width: int, height: int, captured_at: Optional[float]) -> int:
        """Sends one FRAME; returns its size on the wire."""
        sock = self.sock
        assert sock is not None
        t = _now_ms()
        prefix = P.encode_frame_prefix(seq, width, height, t if captured_at is None else captured_at, t, t, len(jpeg))
        try:
            sock.sendall(prefix + jpeg)
        except socket.timeout:
            raise FramecastError("ERR_TIMEOUT", f"{self.what} took no data for {self.timeout:g} s") from None
        except OSError as e:
            self._pending_reply()  # the server's ERROR or END, when it said why before closing
            raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.what} lost ({e})") from None
        self.unacked.append((seq, time.monotonic()))
        return len(prefix) + len(jpeg)

    def _pending_reply(self) -> None:
        try:
            self.pump(0)
        except ServerError:
            raise
        except FramecastError as e:
            if e.code == "ERR_REFUSED":
                raise

    def pump(self, wait: Optional[float]) -> None:
        """Handles what the server sent. When nothing was acknowledged yet, waits up to ``wait`` seconds (None:
        forever) for more. Raises FramecastError when the connection is lost, or the server sent ERROR or END."""
        sock = self.sock
        assert sock is not None
        deadline = None if wait is None else time.monotonic() + max(0.0, wait)
        progress = self._handle_buffered()
        while not progress:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                readable, _, _ = select.select([sock], [], [], left)
            except (OSError, ValueError) as e:
                raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.what} lost ({e})") from None
            if not readable:
                return
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.what} lost ({e})") from None
            if not chunk:
                self._handle_buffered()
                raise FramecastError(
                    "ERR_CONNECTION_LOST", f"connection to {self.what} lost: the server closed the connection"
                )
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += chunk
            progress = self._handle_buffered()

    def _handle_buffered(self) -> bool:
        """Handles every whole message in the buffer; True when a frame was acknowledged."""
        progress = False
        while len(self.buf) - self.pos >= 8:
            env = P.decode_envelope(bytes(self.buf[self.pos : self.pos + 8]))
            if env.header_length > P.MAX_HEADER_BYTES or env.header_length + env.body_length > _MAX_MESSAGE_BYTES:
                raise FramecastError(
                    "ERR_PROTOCOL",
                    f"{self.what} sent a message of type {env.type} with a {env.header_length}-byte header and "
                    f"{env.body_length}-byte body (too large)",
                )
            size = 8 + env.header_length + env.body_length
            if len(self.buf) - self.pos < size:
                break
            start = self.pos + 8
            header = bytes(self.buf[start : start + env.header_length])
            body = bytes(self.buf[start + env.header_length : self.pos + size])
            self.pos += size
            if env.type == P.ACK:
                if len(header) < 4:
                    raise FramecastError("ERR_PROTOCOL", f"{self.what} sent an ACK with a {len(header)}-byte header")
                seq, window = P.decode_ack(header)
                for i, (s, _sent) in enumerate(self.unacked):
                    if s == seq:
                        del self.unacked[: i + 1]
                        self.on_accept(i + 1)
                        progress = True
                        break
                if window is not None:
                    self.window = max(1, min(P.MAX_ACK_WINDOW, window))
            elif env.type == P.ERROR:
                if len(header) < 4:
                    raise FramecastError("ERR_PROTOCOL", f"{self.what} sent an ERROR with a short header")
                self._raise_error(header, body)
            elif env.type == P.END:
                reason = int.from_bytes(header[:2], "big") if len(header) >= 2 else 0
                name = P.END_REASONS.get(reason, "unknown")
                text = body.decode("utf-8", "replace")
                if name == "kicked":
                    raise FramecastError(
                        "ERR_REFUSED", f"{self.what}: {text or 'another publisher took the stream over'}"
                    )
                raise FramecastError(
                    "ERR_CONNECTION_LOST", f"{self.what} ended the publisher ({name}{': ' + text if text else ''})"
                )
            # WELCOME again, STATUS, FRAME, unknown types: nothing for a publisher; skipped.
        return progress

    def check_stall(self, timeout: Optional[float]) -> None:
        if timeout and self.unacked and time.monotonic() - self.unacked[0][1] > timeout:
            raise FramecastError(
                "ERR_TIMEOUT", f"{self.what} did not acknowledge frame {self.unacked[0][0]} within {timeout:g} s"
            )

    def goodbye(self, wait: float) -> None:
        """END (eof), then the server's last ACKs until it closes (at most ``wait`` seconds)."""
        sock = self.sock
        if sock is None:
            return
        try:
            sock.sendall(P.encode_end(1, "the publisher closed"))
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.pump(left)  # raises once the server closed
        except (FramecastError, OSError):
            pass


class Publisher:
    """Pushes JPEGs into one stream of a framecast server (a stream whose source is ``publisher``).

    ``Publisher("HOST[:PORT]/STREAM", token=None, reconnect=True, timeout=10, quality=80, block=True)`` connects
    at once and raises FramecastError when refused (``ERR_AUTH``, ``ERR_UNKNOWN_STREAM``, ``ERR_NOT_PUBLISHABLE``,
    ``ERR_PUBLISHER_ACTIVE``, ...). ``send_jpeg()`` and ``send_image()`` send frames; the server acknowledges
    each one and at most ``window`` (2) may be unacknowledged: with ``block=True`` a send waits for room (up to
    ``timeout`` seconds, then ERR_TIMEOUT), with ``block=False`` it drops the frame and returns False. With
    ``reconnect=True`` a lost connection (or a server not up yet) is retried in a background thread with
    backoff (0.25 s doubling to 5 s) while sends wait or drop. A context manager; ``close()`` says goodbye (END).

    Counters: ``sent``, ``accepted`` (acknowledged by the server), ``dropped`` (not sent: window full or not
    connected, block=False), ``lost`` (sent, never acknowledged: the connection went away), ``reconnects``,
    ``bytes``. One thread at a time may use a Publisher.
    """

    def __init__(
        self,
        address: Union[str, Address],
        token: Optional[str] = None,
        reconnect: bool = True,
        timeout: Optional[float] = 10.0,
        quality: int = 80,
        block: bool = True,
        *,
        on_reconnect: Optional[Callable[[int, float, str], None]] = None,
    ) -> None:
        self.address = address if isinstance(address, Address) else parse_address(address)
        stream = self.address.stream
        if stream is not None and not _STREAM_NAME.fullmatch(stream):
            raise FramecastError(
                "ERR_USAGE", f"stream name {stream!r}: letters, digits, '_', '.', '-' (1 to 64, not starting with _.-)"
            )
        if token is not None and len(token.encode("utf-8")) > P.MAX_TOKEN_BYTES:
            raise FramecastError("ERR_USAGE", f"token is over {P.MAX_TOKEN_BYTES} bytes of UTF-8")
        if timeout is not None and not timeout >= 0:
            raise FramecastError("ERR_USAGE", "timeout must be 0 or more seconds (None or 0: no limit)")
        self.quality = _check_quality(quality)
        self.token = token
        self.reconnect = reconnect
        self.timeout = timeout if timeout else None
        self.block = block
        #: Called from the reconnecting thread before each attempt: (attempt, delay in s, reason).
        self.on_reconnect = on_reconnect
        self.sent = 0
        self.accepted = 0
        self.dropped = 0
        self.lost = 0
        self.reconnects = 0
        self.bytes = 0
        self._seq = 0
        self._conn: Optional[_PublishConnection] = None
        self._closed = False
        self._error: Optional[FramecastError] = None
        self._ever_connected = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._reconnecting = False
        self._incoming: Optional[_PublishConnection] = None
        self._incoming_error: Optional[FramecastError] = None
        self._last_reason = ""
        try:
            self._conn = self._open()
            self._ever_connected = True
        except FramecastError as e:
            if not (reconnect and e.code in RETRYABLE_CODES):
                self._closed = True
                raise
            self._start_reconnect(str(e))

    # -- state -------------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a connection is up (a connection that came back is taken on the next send)."""
        if self._conn is None and not self._closed:
            self._adopt_quietly()
        return self._conn is not None

    @property
    def window(self) -> int:
        """How many frames may be unacknowledged (the server's last ACK says; 2 by default)."""
        return self._conn.window if self._conn else P.ACK_WINDOW

    @property
    def unacknowledged(self) -> int:
        return len(self._conn.unacked) if self._conn else 0

    @property
    def server(self) -> Optional[str]:
        return self._conn.server if self._conn else None

    @property
    def closed(self) -> bool:
        return self._closed

    # -- sending -----------------------------------------------------------------------------------------

    def send_jpeg(self, data: Union[bytes, bytearray, memoryview], captured_at: Optional[float] = None) -> bool:
        """Sends one whole JPEG (FF D8 ... FF D9; ValueError otherwise). ``captured_at``: when the image was
        taken, ms since the epoch (``time.time() * 1000``; default now). True when it was sent; False when it
        was dropped (``block=False``, and the window is full or the publisher is reconnecting). With
        ``block=True`` it waits for room instead, at most ``timeout`` seconds (then FramecastError ERR_TIMEOUT).
        Raises FramecastError when the server refused the publisher or the connection is lost for good."""
        jpeg = _whole_jpeg(data)
        size = jpeg_size(jpeg)
        if size is None or size[0] == 0 or size[1] == 0:
            raise ValueError("the JPEG has no readable size (no SOF segment)")
        self._check_open()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            self._service(0)
            conn = self._conn
            if conn is not None and len(conn.unacked) < conn.window:
                seq = self._seq
                try:
                    wire = conn.send_frame(seq, jpeg, size[0], size[1], captured_at)
                except FramecastError as e:
                    self._lost(e)  # raises unless a reconnect follows
                    if not self.block:
                        self.dropped += 1
                        return False
                    continue
                self._seq = (seq + 1) & 0xFFFFFFFF
                self.sent += 1
                self.bytes += wire
                return True
            if not self.block:
                self.dropped += 1
                return False
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise self._timeout_error()
            if conn is not None:
                self._service(left)
            else:
                self._wait_for_connection(left)
            self._check_open()

    def send_image(self, image: Any, quality: Optional[int] = None, captured_at: Optional[float] = None) -> bool:
        """Encodes a BGR numpy array (what ``cv2.VideoCapture.read()`` gives) as JPEG with OpenCV at ``quality``
        (default: the publisher's, 80) and sends it with ``send_jpeg()``. Raises OpenCVUnavailableError (an
        ImportError) without OpenCV."""
        try:
            cv2 = importlib.import_module("cv2")
        except ImportError as e:
            raise OpenCVUnavailableError(
                "Publisher.send_image() needs OpenCV and numpy (Debian/Ubuntu: apt-get install python3-opencv; "
                f"pip: pip install opencv-python); send_jpeg() does not: {e}",
                e,
            ) from e
        q = self.quality if quality is None else _check_quality(quality)
        self._check_open()
        taken = _now_ms() if captured_at is None else captured_at
        try:
            ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), q])
        except cv2.error as e:
            raise ValueError(f"OpenCV cannot encode this image as JPEG: {e}") from None
        if not ok:
            raise ValueError("OpenCV could not encode the image as JPEG")
        return self.send_jpeg(buf.tobytes(), captured_at=taken)

    # -- closing -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Says goodbye (END: the stream goes no-signal for its viewers), collects the server's last ACKs (a
        2 s at most), and closes. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with self._cond:
            incoming, self._incoming = self._incoming, None
            self._cond.notify_all()
        conn, self._conn = self._conn, None
        if conn is None:
            conn = incoming
        elif incoming is not None:
            incoming.close()
        if conn is not None:
            if conn.sock is not None:
                conn.goodbye(_GOODBYE_SECONDS if self.timeout is None else min(self.timeout, _GOODBYE_SECONDS))
            self.lost += len(conn.unacked)
            conn.unacked.clear()
            conn.close()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # No goodbye from the garbage collector: just let the sockets go.
        try:
            if not self._closed:
                self._closed = True
                self._stop.set()
                for conn in (self._conn, self._incoming):
                    if conn is not None:
                        conn.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self._conn else "connecting")
        return (
            f"<framecast.Publisher {self.address} {state} sent={self.sent} accepted={self.accepted} "
            f"dropped={self.dropped}>"
        )

    # -- internals ---------------------------------------------------------------------------------------

    def _open(self) -> _PublishConnection:
        conn = _PublishConnection(self.address, self.token, self.timeout)
        conn.on_accept = self._on_accept
        conn.open()
        return conn

    def _on_accept(self, n: int) -> None:
        self.accepted += n

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise FramecastError("ERR_CLOSED", "the publisher is closed")

    def _service(self, wait: Optional[float]) -> None:
        """Takes a connection that came back, reads ACKs (waiting up to ``wait`` s for one), notices losses."""
        self._adopt()
        conn = self._conn
        if conn is None:
            return
        try:
            conn.pump(wait)
            conn.check_stall(self.timeout)
        except FramecastError as e:
            self._lost(e)

    def _adopt(self) -> None:
        if self._conn is not None:
            return
        with self._cond:
            conn, self._incoming = self._incoming, None
            err, self._incoming_error = self._incoming_error, None
        if err is not None:
            self._fail(err)
        if conn is not None:
            self._conn = conn
            if self._ever_connected:
                self.reconnects += 1
            self._ever_connected = True

    def _adopt_quietly(self) -> None:
        try:
            self._adopt()
        except FramecastError:
            pass

    def _fail(self, err: FramecastError) -> None:
        self._error = err
        self.close()
        raise err

    def _lost(self, err: FramecastError) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self.lost += len(conn.unacked)
            conn.unacked.clear()
            conn.close()
        if not self.reconnect or err.code not in _RETRY_LOST:
            self._fail(err)
        self._start_reconnect(str(err))

    def _timeout_error(self) -> FramecastError:
        t = f"{self.timeout:g}" if self.timeout else "?"
        if self._conn is not None:
            return FramecastError(
                "ERR_TIMEOUT", f"no room to send within {t} s: {self.address} did not acknowledge frames"
            )
        return FramecastError(
            "ERR_TIMEOUT", f"not connected to {self.address} within {t} s (last: {self._last_reason})"
        )

    def _wait_for_connection(self, left: Optional[float]) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._incoming is not None or self._incoming_error is not None or self._stop.is_set(),
                timeout=left,
            )

    def _start_reconnect(self, reason: str) -> None:
        with self._cond:
            self._last_reason = reason
            if self._reconnecting or self._stop.is_set():
                return
            self._reconnecting = True
        threading.Thread(
            target=self._reconnect_loop, args=(reason,), name="framecast-publisher-reconnect", daemon=True
        ).start()

    def _reconnect_loop(self, reason: str) -> None:
        attempt = 0
        conn: Optional[_PublishConnection] = None
        error: Optional[FramecastError] = None
        while True:
            delay = min(RECONNECT_MAX_DELAY, RECONNECT_INITIAL_DELAY * 2**attempt) * (0.75 + random.random() * 0.5)
            attempt += 1
            if self.on_reconnect is not None:
                try:
                    self.on_reconnect(attempt, delay, reason)
                except Exception:
                    pass
            if self._stop.wait(delay):
                break
            try:
                conn = self._open()
                break
            except FramecastError as e:
                if e.code in _RETRY_LOST and not self._stop.is_set():
                    reason = str(e)
                    with self._cond:
                        self._last_reason = reason
                    continue
                error = e
                break
        with self._cond:
            self._reconnecting = False
            if self._stop.is_set():
                if conn is not None:
                    conn.close()
                return
            self._incoming = conn
            self._incoming_error = error
            self._cond.notify_all()


def _check_quality(quality: Any) -> int:
    try:
        q = int(quality)
    except (TypeError, ValueError):
        q = -1
    if not 1 <= q <= 100 or q != quality:
        raise ValueError(f"JPEG quality must be an integer from 1 to 100, got {quality!r}")
    return q


def _whole_jpeg(data: Union[bytes, bytearray, memoryview]) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"send_jpeg() takes the JPEG's bytes, not {type(data).__name__}")
    if len(data) > MAX_PUBLISHED_FRAME_BYTES:
        raise ValueError(f"the JPEG is {len(data)} bytes, over the server's limit of {MAX_PUBLISHED_FRAME_BYTES}")
    if not looks_like_jpeg(data):
        raise ValueError("send_jpeg() takes a whole JPEG (it must start with FF D8 and end with FF D9)")
    return data
