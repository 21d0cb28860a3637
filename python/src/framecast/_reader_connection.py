"""One reader connection: the handshake (native hello, or detecting a seed server), then frames in either
framing, and ACKs back. The native framing is ``_wire.Wire``'s; the seed framing is read here."""

from __future__ import annotations

import base64
import binascii
import select
import socket
import struct
from typing import Any, Callable, Dict, Optional, Tuple

from . import protocol as P
from ._meta import DEFAULT_MAX_META_BYTES, check_analyzer, meta_json, parse_object
from ._wire import Wire, end_of, now_ms
from .address import Address
from .errors import FramecastError
from .frame import Annotation, ClockEstimate, End, Frame, Status
from .jpeg import jpeg_size, looks_like_jpeg

__all__ = ["ReaderConnection", "AUTO_HELLO_DELAY"]

#: In ``auto`` mode, how long the client waits for a seed server to speak first before it says hello
#: (a framecast server waits 100 ms for the hello before it decides a client is a seed client).
AUTO_HELLO_DELAY = 0.040

_FRAME_HEADER = struct.Struct(">IHHddd")


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


class ReaderConnection(Wire):
    """One TCP connection of a reader: the handshake (native hello, or seed-framing detection), then frames."""

    def __init__(
        self,
        address: Address,
        token: Optional[str],
        timeout: Optional[float],
        protocol: str,
        ack: bool,
        max_frame_bytes: int,
        meta_flags: int = 0,
        max_meta_bytes: int = DEFAULT_MAX_META_BYTES,
        playback: Optional[Tuple[float, float]] = None,
        view: Optional[Tuple[int, int, float]] = None,
    ) -> None:
        super().__init__(address, token, timeout, max_frame_bytes)
        #: (start ms since the epoch, speed): play the recording back instead of watching live.
        self.playback = playback
        #: (width, quality, fps), 0 for the stream's own: another size or rate than the stream's.
        self.view = view
        # A playback or a view is native only: a seed server cannot be asked.
        self.requested = "native" if playback is not None or view is not None else protocol
        self.want_ack = ack
        #: The hello bits asked for (FLAG_META, FLAG_ANNOTATIONS, FLAG_ANNOTATE) and those the WELCOME echoed.
        self.meta_flags = meta_flags
        self.honoured = 0
        self.max_meta_bytes = max_meta_bytes
        #: A frame's metadata (seq, JSON), waiting for its FRAME (which follows at once).
        self._pending_meta: Optional[Tuple[int, bytes]] = None
        self.on_annotation: Optional[Callable[[Annotation], None]] = None
        self.clock: Optional[ClockEstimate] = None
        self.acking = False
        self.fallback = False
        self.end: Optional[End] = None
        self.status: Optional[Status] = None
        self.on_status: Optional[Callable[[Status], None]] = None
        self.bad_frames = 0
        self.seed_seq = 0
        self._last_captured: Optional[float] = None
        self._interval: Optional[float] = None

    def _reset_is_end(self) -> bool:
        # A seed server closes with our unread hello in its buffer: the kernel sends a reset.
        return self.fallback and self._at_boundary and self.seed_seq > 0

    # -- handshake -------------------------------------------------------------------------------------

    def _hello(self) -> None:
        self.hello_at = now_ms()
        flags = (P.FLAG_ACK if self.want_ack else 0) | self.meta_flags
        self.send(P.encode_hello(self.token, self.hello_at, flags, self.address.stream, self.playback, self.view))

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
        if not self._fill_answer(4, "native hello"):
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
        problem = None
        if not 1 <= version <= sent:
            problem = f"{self.where} answered with protocol version {version} (asked for {sent})"
        env, header, body = self.read_welcome(problem)
        t3 = now_ms()
        t1, t2 = struct.unpack_from(">dd", header)
        # NTP's formula: t1 and t2 are the server's receive and send times, hello_at and t3 ours.
        offset = ((t1 - self.hello_at) + (t2 - t3)) / 2.0
        rtt = max(0.0, (t3 - self.hello_at) - (t2 - t1))
        assert self.sock is not None
        self.clock = ClockEstimate(offset, rtt, _is_same_host(self.sock))
        self.server = body.decode("utf-8", "replace")
        self.acking = self.want_ack and bool(env.flags & P.FLAG_ACK)
        self.honoured = env.flags
        self.protocol = "native"

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
            env, header, body = self.read_message()
            t = env.type
            if t == P.FRAME:
                received = now_ms()
                self.waiting = False
                seq, width, height, captured, encoded, sent = _FRAME_HEADER.unpack_from(header)
                self._observe(captured)
                if not looks_like_jpeg(body):
                    self.bad_frames += 1
                    self.ack(seq)
                    continue
                clock = self.clock
                offset = 0.0 if clock is None or clock.same_host else clock.offset_ms
                wire_bytes = 8 + env.header_length + env.body_length
                latency = received + offset - captured
                meta = self._frame_meta(seq)
                return Frame(seq, width, height, body, captured, encoded, sent, received, latency, wire_bytes, meta)
            if t == P.META:
                self._on_meta(header, body)
            if t == P.STATUS:
                code, _reserved, value = struct.unpack_from(">HHI", header)
                status = Status(code, P.STATUS_CODES.get(code, "unknown"), value, body.decode("utf-8", "replace"))
                self.status = status
                self.waiting = code == 1
                if self.on_status is not None:
                    self.on_status(status)
            elif t == P.END:
                self.end = end_of(header, body)
                return None
            elif t == P.ERROR:
                self.raise_error(header, body)
            elif t == P.WELCOME:
                raise FramecastError("ERR_PROTOCOL", f"{self.where} sent a second welcome")

    def _read_seed(self) -> Optional[Frame]:
        """The seed framing: a 4-byte big-endian length, then that many bytes of base64 JPEG."""
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
            if self.fallback and bytes(self.buf[self.pos : self.pos + 4]) == P.MAGIC:
                # Our hello reached a framecast server after its grace: it answers between two seed
                # frames with the native preamble (a seed length prefix can never spell the magic).
                self.fallback = False
                self._handshake_native()
                return self._read_native()
            (n,) = struct.unpack(">L", self._take(4))
            if n > self.max_frame_bytes:
                raise FramecastError(
                    "ERR_FRAME_TOO_LARGE",
                    f"seed frame length {n} bytes is over the limit of {self.max_frame_bytes} bytes",
                )
            payload = self._read(n, "seed frame")
            received = now_ms()
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

    # -- metadata and annotations --------------------------------------------------------------------------

    def _on_meta(self, header: bytes, body: bytes) -> None:
        try:
            seq, kind, name, captured_at = P.decode_meta(header)
        except ValueError as e:
            raise FramecastError("ERR_PROTOCOL", f"{self.where} sent a bad META ({e})") from None
        if kind == P.META_METADATA:
            self._pending_meta = (seq, body)
            return
        data = parse_object(body) if kind == P.META_ANNOTATION else None
        if data is not None and self.on_annotation is not None:
            self.on_annotation(Annotation(name, seq, captured_at, data))

    def _frame_meta(self, seq: int) -> Optional[Dict[str, Any]]:
        """The metadata of FRAME ``seq``: the META just before it with the same seq, or None."""
        pending, self._pending_meta = self._pending_meta, None
        return parse_object(pending[1]) if pending is not None and pending[0] == seq else None

    def annotate(self, seq: int, analyzer: str, data: Any) -> None:
        """Sends an annotation (META kind 2) of frame ``seq``; checked first (ERR_BAD_META), and only when the
        server agreed to take annotations (ERR_USAGE without ``annotate=True``, ERR_PROTOCOL when it did not)."""
        check_analyzer(analyzer)
        json_bytes = meta_json(data, self.max_meta_bytes, "annotation")
        if not self.meta_flags & P.FLAG_ANNOTATE:
            raise FramecastError("ERR_USAGE", "annotate() needs connect(..., annotate=True)")
        if not self.honoured & P.FLAG_ANNOTATE:
            raise FramecastError("ERR_PROTOCOL", f"{self.where} does not take annotations (an older framecast?)")
        self.send(P.encode_meta(seq, P.META_ANNOTATION, analyzer, 0.0, json_bytes))

    # -- ACK flow control ------------------------------------------------------------------------------

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
