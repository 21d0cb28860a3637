"""One publisher connection: the publish hello, then FRAMEs out and ACKs in, read without blocking over
``_wire.Wire`` (the layer the reader uses too)."""

from __future__ import annotations

import socket
import time
from typing import Callable, List, Optional, Tuple

from . import protocol as P
from ._wire import Wire, end_of, now_ms
from .address import Address
from .errors import FramecastError, ServerError

__all__ = ["PublishConnection", "MAX_MESSAGE_BYTES"]

#: Anything the server sends a publisher is small; a larger declared message is a protocol error.
MAX_MESSAGE_BYTES = 1 << 20


class PublishConnection(Wire):
    """One publisher connection: the publish hello, then FRAMEs out and ACKs in (read without blocking)."""

    def __init__(self, address: Address, token: Optional[str], timeout: Optional[float]) -> None:
        # During the handshake a publisher takes what a reader would, with text-sized bodies only.
        super().__init__(address, token, timeout, P.MAX_TEXT_BYTES)
        self.what = f"{self.where}/{address.stream or 'default'}"
        #: (seq, monotonic send time) of the frames sent and not acknowledged yet, oldest first.
        self.unacked: List[Tuple[int, float]] = []
        self.window = P.ACK_WINDOW
        self.on_accept: Callable[[int], None] = lambda n: None
        #: The WELCOME echoed 0x04 (Meta): the server takes each frame's metadata.
        self.meta_ok = False

    # -- handshake -------------------------------------------------------------------------------------

    def _handshake(self) -> None:
        self.hello_at = now_ms()
        self.send(P.encode_publish_hello(self.token, self.hello_at, self.address.stream, P.FLAG_PUBLISH | P.FLAG_META))
        if not self._fill_answer(8, "publish hello"):
            raise FramecastError("ERR_CONNECTION_LOST", f"{self.where} closed the connection without answering")
        magic, version = P.decode_preamble(self._take(8))
        if magic != P.MAGIC:
            raise FramecastError(
                "ERR_PROTOCOL", f"{self.where} does not speak framecast's native protocol (a seed server?)"
            )
        self.version = version
        env, _header, body = self.read_welcome()
        if version < P.NAMED_STREAM_VERSION or not env.flags & P.FLAG_PUBLISH:
            raise FramecastError(
                "ERR_PROTOCOL", f"{self.where}: server does not take publishers (an older framecast?)"
            )
        self.server = body.decode("utf-8", "replace")
        self.meta_ok = bool(env.flags & P.FLAG_META)
        self.protocol = "native"

    def _refusal(self) -> str:
        return f"{self.what} refused the publisher"

    def _admit(self, env: P.Envelope) -> bool:
        if self.protocol is None:
            return super()._admit(env)
        # After the handshake every message is buffered whole (what a publisher does not use is ignored).
        if env.header_length > P.MAX_HEADER_BYTES or env.header_length + env.body_length > MAX_MESSAGE_BYTES:
            raise FramecastError(
                "ERR_PROTOCOL",
                f"{self.what} sent a message of type {env.type} with a {env.header_length}-byte header and "
                f"{env.body_length}-byte body (too large)",
            )
        return True

    # -- after the handshake -----------------------------------------------------------------------------

    def send_frame(
        self,
        seq: int,
        jpeg: bytes,
        width: int,
        height: int,
        captured_at: Optional[float],
        meta_json: Optional[bytes] = None,
    ) -> int:
        """Sends one FRAME, after its META (kind 1, same seq) when ``meta_json`` is given; returns the bytes sent."""
        sock = self.sock
        assert sock is not None
        t = now_ms()
        taken = t if captured_at is None else captured_at
        prefix = P.encode_frame_prefix(seq, width, height, taken, t, t, len(jpeg))
        if meta_json is not None:
            prefix = P.encode_meta(seq, P.META_METADATA, "", taken, meta_json) + prefix
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
        assert self.sock is not None
        deadline = None if wait is None else time.monotonic() + max(0.0, wait)
        progress = self._handle_buffered()
        while not progress:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            got = self.receive(left, self.what)
            if got is None:
                return
            if got is False:
                self._handle_buffered()
                raise FramecastError(
                    "ERR_CONNECTION_LOST", f"connection to {self.what} lost: the server closed the connection"
                )
            progress = self._handle_buffered()

    def _handle_buffered(self) -> bool:
        """Handles every whole message in the buffer; True when a frame was acknowledged."""
        progress = False
        while True:
            message = self.take_message()
            if message is None:
                return progress
            env, header, body = message
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
                self.raise_error(header, body)
            elif env.type == P.END:
                end = end_of(header, body)
                if end.name == "kicked":
                    raise FramecastError(
                        "ERR_REFUSED", f"{self.what}: {end.message or 'another publisher took the stream over'}"
                    )
                detail = f": {end.message}" if end.message else ""
                raise FramecastError("ERR_CONNECTION_LOST", f"{self.what} ended the publisher ({end.name}{detail})")
            # WELCOME again, STATUS, FRAME, unknown types: nothing for a publisher; skipped.

    def check_stall(self, timeout: Optional[float]) -> None:
        """Raises ERR_TIMEOUT when the oldest unacknowledged frame has waited more than ``timeout`` seconds."""
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
