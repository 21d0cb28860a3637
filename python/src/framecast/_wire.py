"""The native connection layer shared by the reader and the publisher: dialing, one receive buffer, native
messages whose declared lengths are checked before any of their bytes are buffered (read blocking, or taken
from what already arrived), and the server's WELCOME, ERROR and END turned into values and error codes.

What each side sends first and what it does with the messages is theirs (``_reader_connection.py``,
``_publish_connection.py``); the seed framing is the reader's alone.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Optional, Tuple

from . import protocol as P
from .address import Address
from .errors import FramecastError, ServerError
from .frame import End

__all__ = ["Wire", "Message", "now_ms", "end_of", "MIN_HEADER"]

#: A native message: its envelope, type-specific header and body.
Message = Tuple[P.Envelope, bytes, bytes]

#: The shortest header each known message type may have.
MIN_HEADER = {P.WELCOME: 16, P.FRAME: 32, P.STATUS: 8, P.END: 4, P.ERROR: 4, P.META: 16}


def now_ms() -> float:
    """Wall-clock time in ms since the epoch (the protocol's timestamps)."""
    return time.time() * 1000.0


def end_of(header: bytes, body: bytes) -> End:
    """An END message as a value (reason 0 when the header is too short to hold one)."""
    reason = int.from_bytes(header[:2], "big") if len(header) >= 2 else 0
    return End(reason, P.END_REASONS.get(reason, "unknown"), body.decode("utf-8", "replace"))


class Wire:
    """One TCP connection to a framecast server that speaks the native envelope.

    ``open()`` dials and runs ``_handshake()`` (the subclass's). Reads go through one buffer: blocking ones
    (``read_message()``, time-limited by ``timeout``) and ``receive()`` + ``take_message()`` for a caller that
    must not block. ``_admit()`` is the one place that decides, from an envelope alone, whether a message is
    buffered, skipped unread, or refused; by default it applies a reader's limits (``max_frame_bytes`` for a
    FRAME body, 4 KiB for text, 1 KiB headers, unknown types skipped).
    """

    def __init__(self, address: Address, token: Optional[str], timeout: Optional[float], max_frame_bytes: int) -> None:
        self.address = address
        self.where = str(Address(address.host, address.port))
        self.token = token
        self.timeout = timeout
        self.max_frame_bytes = max_frame_bytes
        self.sock: Optional[socket.socket] = None
        self.buf = bytearray()
        self.pos = 0
        self.bytes_in = 0
        #: ``native`` or ``legacy`` once the handshake is done.
        self.protocol: Optional[str] = None
        self.version: Optional[int] = None
        self.server: Optional[str] = None
        self.hello_at = 0.0
        #: While True a read timeout is not a stall (a reader waiting for a place in line hears nothing).
        self.waiting = False
        self._skip_left = 0

    # -- dialing and sending ---------------------------------------------------------------------------

    def open(self) -> None:
        """Connects (within ``timeout``) and runs the handshake; closes the socket when either fails."""
        addr = self.address
        try:
            sock = socket.create_connection((addr.host, addr.port), timeout=self.timeout)
        except socket.timeout:
            raise FramecastError("ERR_TIMEOUT", f"no answer from {self.where} within {self.timeout:g} s") from None
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

    def _handshake(self) -> None:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Sends all of ``data``; a failure is a lost connection."""
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None

    def close(self) -> None:
        """Closes the socket. Idempotent."""
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- blocking reads --------------------------------------------------------------------------------

    def _reset_is_end(self) -> bool:
        """True when a connection reset at this point is the peer's way of closing (see the reader)."""
        return False

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
                if self._reset_is_end():
                    return b""
                raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None
            except OSError as e:
                raise FramecastError("ERR_CONNECTION_LOST", f"connection to {self.where} lost ({e})") from None
            self.bytes_in += len(chunk)
            return chunk

    def _compact(self) -> None:
        # Dropping the consumed prefix once per refill keeps the buffer from growing with the stream.
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0

    def _fill(self, n: int) -> bool:
        """Buffers ``n`` unread bytes; False when the connection closed first."""
        if len(self.buf) - self.pos >= n:
            return True
        self._compact()
        while len(self.buf) < n:
            chunk = self._recv(n - len(self.buf))
            if not chunk:
                return False
            self.buf += chunk
        return True

    def _fill_answer(self, n: int, hello: str) -> bool:
        """``_fill(n)`` for the answer to our hello: a timeout says the ``hello`` was not answered."""
        try:
            return self._fill(n)
        except FramecastError as e:
            if e.code == "ERR_TIMEOUT":
                raise FramecastError("ERR_TIMEOUT", f"{self.where} did not answer the {hello}") from None
            raise

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

    # -- native messages -------------------------------------------------------------------------------

    def _admit(self, env: P.Envelope) -> bool:
        """Checks a message's declared lengths before any of it is buffered: True to read it, False to skip it
        unread (unknown types); raises FramecastError when it is over a limit."""
        if env.header_length > P.MAX_HEADER_BYTES:
            raise FramecastError(
                "ERR_PROTOCOL",
                f"message type {env.type} declares a {env.header_length}-byte header (limit {P.MAX_HEADER_BYTES})",
            )
        if not env.known:
            return False
        limit = P.body_limit(env.type, self.max_frame_bytes)
        if env.body_length > limit:
            code = "ERR_FRAME_TOO_LARGE" if env.type == P.FRAME else "ERR_PROTOCOL"
            raise FramecastError(code, f"message type {env.type} declares {env.body_length} bytes (limit {limit})")
        if env.header_length < MIN_HEADER[env.type]:
            raise FramecastError(
                "ERR_PROTOCOL",
                f"message type {env.type} has a {env.header_length}-byte header (at least {MIN_HEADER[env.type]})",
            )
        return True

    def read_message(self) -> Message:
        """The next admitted message, waiting for it; the connection closing at a message boundary raises
        ERR_CONNECTION_LOST unless END came first (then it is never read)."""
        while True:
            if not self._fill(8):
                if self._at_boundary:
                    raise FramecastError(
                        "ERR_CONNECTION_LOST",
                        f"connection to {self.where} lost: the server closed without ending the stream",
                    )
                self._read(8, "message envelope")
            env = P.decode_envelope(self._take(8))
            if not self._admit(env):
                self._skip(env.header_length + env.body_length, f"message of type {env.type}")
                continue
            header = self._read(env.header_length, "message header")
            body = self._read(env.body_length, "message body")
            return env, header, body

    def receive(self, wait: Optional[float], name: str) -> Optional[bool]:
        """Waits up to ``wait`` seconds (None: forever) for bytes and buffers what came, without blocking beyond
        that. None when nothing came in time, False when the server closed, True otherwise. A failure is a lost
        connection to ``name``."""
        sock = self.sock
        assert sock is not None
        try:
            readable, _, _ = select.select([sock], [], [], wait)
        except (OSError, ValueError) as e:
            raise FramecastError("ERR_CONNECTION_LOST", f"connection to {name} lost ({e})") from None
        if not readable:
            return None
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, BlockingIOError, InterruptedError):
            return True
        except OSError as e:
            raise FramecastError("ERR_CONNECTION_LOST", f"connection to {name} lost ({e})") from None
        if not chunk:
            return False
        self.bytes_in += len(chunk)
        self._compact()
        self.buf += chunk
        return True

    def take_message(self) -> Optional[Message]:
        """The next admitted message if all of it is buffered already, else None. Its envelope is checked as
        soon as it is in; a skipped message's bytes are dropped as they arrive."""
        while True:
            if self._skip_left:
                n = min(self._skip_left, len(self.buf) - self.pos)
                self.pos += n
                self._skip_left -= n
                if self._skip_left:
                    return None
            if len(self.buf) - self.pos < 8:
                return None
            env = P.decode_envelope(bytes(self.buf[self.pos : self.pos + 8]))
            if not self._admit(env):
                self.pos += 8
                self._skip_left = env.header_length + env.body_length
                continue
            size = 8 + env.header_length + env.body_length
            if len(self.buf) - self.pos < size:
                return None
            start = self.pos + 8
            header = bytes(self.buf[start : start + env.header_length])
            body = bytes(self.buf[start + env.header_length : self.pos + size])
            self.pos += size
            return env, header, body

    def read_welcome(self, version_problem: Optional[str] = None) -> Message:
        """The server's first message after its preamble, which must be WELCOME: ERROR raises its code,
        ``version_problem`` (the preamble's version is unusable) raises ERR_PROTOCOL, anything else too."""
        env, header, body = self.read_message()
        if env.type == P.ERROR:
            self.raise_error(header, body)
        if version_problem is not None:
            raise FramecastError("ERR_PROTOCOL", version_problem)
        if env.type != P.WELCOME:
            raise FramecastError("ERR_PROTOCOL", f"{self.where} sent a message before its welcome")
        return env, header, body

    def _refusal(self) -> str:
        """How a refusal starts: who refused what."""
        return f"{self.where} refused the connection"

    def raise_error(self, header: bytes, body: bytes) -> None:
        """Raises the ServerError for an ERROR message (its code named by ``protocol.error_code_name``)."""
        (server_code,) = struct.unpack_from(">H", header)
        text = body.decode("utf-8", "replace") or f"error {server_code}"
        raise ServerError(P.error_code_name(server_code), f"{self._refusal()}: {text}", server_code)
