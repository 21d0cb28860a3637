"""Exceptions raised by framecast."""

from __future__ import annotations

from typing import Optional

__all__ = ["FramecastError", "ServerError", "OpenCVUnavailableError", "RETRYABLE_CODES"]


class FramecastError(Exception):
    """An error a caller can act on.

    ``code`` is a stable string (``ERR_CONNECT``, ``ERR_TIMEOUT``, ``ERR_PROTOCOL``, ``ERR_AUTH``, ...);
    the message is one line naming what went wrong.
    """

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class ServerError(FramecastError):
    """The server refused or dropped the client with a native ERROR message.

    ``server_code`` is the number from the message (docs/PROTOCOL.md, "ERROR codes"); ``code`` is its name.
    """

    server_code: int

    def __init__(self, code: str, message: str, server_code: int) -> None:
        super().__init__(code, message)
        self.server_code = server_code


class OpenCVUnavailableError(ImportError):
    """``Frame.image()`` needs OpenCV (cv2) and numpy, and one of them cannot be imported."""

    def __init__(self, message: str, cause: Optional[BaseException] = None) -> None:
        super().__init__(message, name="cv2")
        self.__cause__ = cause


#: Codes after which a client started with ``reconnect=True`` tries again.
RETRYABLE_CODES = frozenset(
    {"ERR_CONNECT", "ERR_TIMEOUT", "ERR_CONNECTION_LOST", "ERR_SHUTTING_DOWN", "ERR_SERVER_FULL"}
)
