"""A Publisher's connection, kept: dial it, take one that came back from the background redialer, read its
ACKs and notice a stall or a loss (then redial, or fail for good), and the timeout's message."""

from __future__ import annotations

from typing import Callable, Optional

from ._publish_connection import PublishConnection
from ._reconnect import Redialer
from .address import Address
from .errors import RETRYABLE_CODES, FramecastError

#: A lost publisher tries again after these (the server may still hold the old connection: "publisher active";
#: a source that stalled for 10 s was closed as idle).
_RETRY_LOST = RETRYABLE_CODES | {"ERR_PUBLISHER_ACTIVE", "ERR_PUBLISHER_IDLE"}


class PublisherLink:
    """The connection upkeep of a ``Publisher`` (its base class); what it uses of the publisher is declared here."""

    address: Address
    token: Optional[str]
    timeout: Optional[float]
    reconnect: bool
    on_reconnect: Optional[Callable[[int, float, str], None]]
    accepted: int
    lost: int
    reconnects: int
    _conn: Optional[PublishConnection]
    _closed: bool
    _error: Optional[FramecastError]
    _ever_connected: bool
    _redial: Redialer[PublishConnection]

    def close(self) -> None:
        raise NotImplementedError

    def _open(self) -> PublishConnection:
        conn = PublishConnection(self.address, self.token, self.timeout)
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
        conn, err = self._redial.take()
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
        self._redial.start(str(err))

    def _timeout_error(self) -> FramecastError:
        t = f"{self.timeout:g}" if self.timeout else "?"
        if self._conn is not None:
            return FramecastError(
                "ERR_TIMEOUT", f"no room to send within {t} s: {self.address} did not acknowledge frames"
            )
        return FramecastError(
            "ERR_TIMEOUT", f"not connected to {self.address} within {t} s (last: {self._redial.last_reason})"
        )

    def _on_redial(self, attempt: int, delay: float, reason: str) -> None:
        if self.on_reconnect is not None:
            self.on_reconnect(attempt, delay, reason)
