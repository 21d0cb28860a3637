"""OpenCV is optional: importing it with an error that says how to install it, and encoding JPEGs with it."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import OpenCVUnavailableError

__all__ = ["import_cv2", "encode_jpeg"]


def import_cv2(user: str, aside: str = "") -> Any:
    """The cv2 module, or OpenCVUnavailableError (an ImportError) saying that ``user`` needs OpenCV, how to
    install it, ``aside`` (what works without it) and the import's own error."""
    try:
        return importlib.import_module("cv2")
    except ImportError as e:
        raise OpenCVUnavailableError(
            f"{user} needs OpenCV and numpy (Debian/Ubuntu: apt-get install python3-opencv; "
            f"pip: pip install opencv-python){aside}: {e}",
            e,
        ) from e


def encode_jpeg(cv2: Any, image: Any, quality: int) -> bytes:
    """``image`` (a BGR numpy array) as JPEG at ``quality``; ValueError when OpenCV cannot encode it."""
    try:
        ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    except cv2.error as e:
        raise ValueError(f"OpenCV cannot encode this image as JPEG: {e}") from None
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    return bytes(buf.tobytes())
