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

import time
from typing import Any, Callable, Dict, Optional, Union

from . import protocol as P
from ._publish_checks import MAX_PUBLISHED_FRAME_BYTES, check_quality, check_stream_name, whole_jpeg
from ._meta import DEFAULT_MAX_META_BYTES, meta_json
from ._publish_connection import PublishConnection
from ._publisher_link import _RETRY_LOST, PublisherLink
from ._reconnect import Redialer
from ._opencv import encode_jpeg, import_cv2
from ._wire import now_ms
from .address import Address, parse_address
from .errors import RETRYABLE_CODES, FramecastError
from .jpeg import jpeg_size

__all__ = ["Publisher", "MAX_PUBLISHED_FRAME_BYTES"]

#: How long close() waits for the server's last ACKs and its close after END.
_GOODBYE_SECONDS = 2.0

# Its name before the connection moved to _publish_connection.py, for code that imported it from here.
_PublishConnection = PublishConnection


class Publisher(PublisherLink):
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
        max_meta_bytes: int = DEFAULT_MAX_META_BYTES,
    ) -> None:
        self.address = address if isinstance(address, Address) else parse_address(address)
        check_stream_name(self.address.stream)
        if token is not None and len(token.encode("utf-8")) > P.MAX_TOKEN_BYTES:
            raise FramecastError("ERR_USAGE", f"token is over {P.MAX_TOKEN_BYTES} bytes of UTF-8")
        if timeout is not None and not timeout >= 0:
            raise FramecastError("ERR_USAGE", "timeout must be 0 or more seconds (None or 0: no limit)")
        self.quality = check_quality(quality)
        self.token = token
        self.reconnect = reconnect
        self.timeout = timeout if timeout else None
        self.block = block
        #: The largest metadata of one frame sent (bytes of JSON; the server's default ``maxMetaBytes``).
        self.max_meta_bytes = max_meta_bytes
        #: Called from the reconnecting thread before each attempt: (attempt, delay in s, reason).
        self.on_reconnect = on_reconnect
        self.sent = 0
        self.accepted = 0
        self.dropped = 0
        self.lost = 0
        self.reconnects = 0
        self.bytes = 0
        self._seq = 0
        self._conn: Optional[PublishConnection] = None
        self._closed = False
        self._error: Optional[FramecastError] = None
        self._ever_connected = False
        self._redial: Redialer[PublishConnection] = Redialer(
            self._open, PublishConnection.close, _RETRY_LOST, self._on_redial, "framecast-publisher-reconnect"
        )
        try:
            self._conn = self._open()
            self._ever_connected = True
        except FramecastError as e:
            if not (reconnect and e.code in RETRYABLE_CODES):
                self._closed = True
                raise
            self._redial.start(str(e))

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
        """Frames sent on this connection and not acknowledged yet."""
        return len(self._conn.unacked) if self._conn else 0

    @property
    def server(self) -> Optional[str]:
        """The server's software name from its WELCOME (None while not connected)."""
        return self._conn.server if self._conn else None

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called (or the publisher failed for good)."""
        return self._closed

    # -- sending -----------------------------------------------------------------------------------------

    def send_jpeg(
        self,
        data: Union[bytes, bytearray, memoryview],
        captured_at: Optional[float] = None,
        meta: Optional[Dict[str, Any]] = None,
    ) -> bool:
        """Sends one whole JPEG (FF D8 ... FF D9; ValueError otherwise). ``captured_at``: when the image was
        taken, ms since the epoch (``time.time() * 1000``; default now). ``meta``: the frame's metadata, a dict
        (one JSON object) that viewers asking for it get as ``frame.meta``; checked before anything is sent
        (FramecastError ERR_BAD_META: not a dict, over ``max_meta_bytes``, nested over 32 deep), and
        ERR_PROTOCOL when the server takes no metadata (an older framecast). True when it was sent; False when
        it was dropped (``block=False``, and the window is full or the publisher is reconnecting). With
        ``block=True`` it waits for room instead, at most ``timeout`` seconds (then FramecastError ERR_TIMEOUT).
        Raises FramecastError when the server refused the publisher or the connection is lost for good."""
        jpeg = whole_jpeg(data)
        meta_bytes = None if meta is None else meta_json(meta, self.max_meta_bytes)
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
                if meta_bytes is not None and not conn.meta_ok:
                    why = "takes no frame metadata (an older framecast): send without meta"
                    raise FramecastError("ERR_PROTOCOL", f"{self.address} {why}")
                try:
                    wire = conn.send_frame(seq, jpeg, size[0], size[1], captured_at, meta_bytes)
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
                self._redial.wait(left)
            self._check_open()

    def send_image(
        self,
        image: Any,
        quality: Optional[int] = None,
        captured_at: Optional[float] = None,
        meta: Optional[Dict[str, Any]] = None,
    ) -> bool:
        """Encodes a BGR numpy array (what ``cv2.VideoCapture.read()`` gives) as JPEG with OpenCV at ``quality``
        (default: the publisher's, 80) and sends it with ``send_jpeg()`` (with ``meta``, checked before the
        image is encoded). Raises OpenCVUnavailableError (an ImportError) without OpenCV."""
        cv2 = import_cv2("Publisher.send_image()", "; send_jpeg() does not")
        q = self.quality if quality is None else check_quality(quality)
        if meta is not None:
            meta_json(meta, self.max_meta_bytes)
        self._check_open()
        taken = now_ms() if captured_at is None else captured_at
        return self.send_jpeg(encode_jpeg(cv2, image, q), captured_at=taken, meta=meta)

    # -- closing -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Says goodbye (END: the stream goes no-signal for its viewers), collects the server's last ACKs (a
        2 s at most), and closes. Idempotent."""
        if self._closed:
            return
        self._closed = True
        incoming = self._redial.stop()
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
                for conn in (self._conn, self._redial.stop()):
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
