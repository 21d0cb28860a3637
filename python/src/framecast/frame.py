"""What a reader gets: ``Frame`` (one JPEG with its timestamps) and the stream's events (``Status``, ``End``), and
the ``ClockEstimate`` that turns the server's timestamps into latencies."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional, cast

from .errors import FramecastError, OpenCVUnavailableError

if TYPE_CHECKING:  # numpy is optional: only for the type of Frame.image()
    import numpy

__all__ = ["Frame", "ClockEstimate", "Status", "End", "Annotation"]


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


class Annotation(NamedTuple):
    """An analyzer's annotation of a frame: ``seq`` and ``captured_at`` are those of the frame it belongs to
    (a frame of this stream, as every viewer received it); ``data`` is the analyzer's JSON object."""

    analyzer: str
    seq: int
    captured_at: float
    data: Dict[str, Any]


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
    ``meta`` is the publisher's metadata of the frame (a dict) when the client asked for it (``meta=True``) and
    the frame has some, else None.
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
        "meta",
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
        meta: Optional[Dict[str, Any]] = None,
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
        self.meta = meta

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
