"""framecast: read framecast video streams (and the seed's JPEG-over-TCP streams) from Python, and publish
frames into a framecast server (``Publisher``).

    import cv2, framecast

    with framecast.connect("127.0.0.1:9999") as stream:
        for frame in stream:
            cv2.imshow("framecast", frame.image())
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break

    with framecast.Publisher("127.0.0.1:9999/cam", token="s3cret") as pub:
        pub.send_image(img)  # or pub.send_jpeg(jpeg_bytes)

Standard library only; ``Frame.image()`` and ``Publisher.send_image()`` need OpenCV and numpy.
"""

from .address import Address, parse_address
from .client import Annotation, Client, ClockEstimate, End, Frame, Status, connect
from .errors import FramecastError, OpenCVUnavailableError, ServerError
from .jpeg import jpeg_size, looks_like_jpeg
from .publisher import Publisher

__version__ = "0.1.0"

__all__ = [
    "Address",
    "Annotation",
    "Client",
    "ClockEstimate",
    "End",
    "Frame",
    "FramecastError",
    "OpenCVUnavailableError",
    "Publisher",
    "ServerError",
    "Status",
    "connect",
    "jpeg_size",
    "looks_like_jpeg",
    "parse_address",
    "__version__",
]
