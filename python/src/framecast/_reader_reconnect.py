"""The reader's reconnect loop: drop the lost connection, back off, dial again until a connection is back or
``reconnect_timeout`` passed. A Client runs it in its own thread, between two reads (the publisher redials in a
background thread: ``_reconnect.Redialer``)."""

from __future__ import annotations

import time
from typing import Callable, Optional

from ._reader_connection import ReaderConnection
from ._reconnect import backoff_delay
from .address import Address
from .errors import RETRYABLE_CODES, FramecastError


class ReaderReconnect:
    """The reconnect loop of a ``Client`` (its base class); what it uses of the client is declared here."""

    address: Address
    reconnect_timeout: float
    on_reconnect: Optional[Callable[[int, float, str], None]]
    reconnects: int
    gap_seconds: float
    _conn: Optional[ReaderConnection]
    _bad_before: int
    _pending_ack: Optional[int]

    def _open(self) -> ReaderConnection:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _drop(self) -> None:
        if self._conn is not None:
            self._bad_before += self._conn.bad_frames
            self._conn.close()
        self._pending_ack = None

    def _reconnect(self, reason: str, first: bool = False) -> None:
        """Connects again with backoff (0.25 s doubling to 5 s, +-25% jitter) until a connection is back or
        ``reconnect_timeout`` seconds passed without one (0: never give up). The first connection of a
        client is tried at once, a lost one after the first delay."""
        if not first:
            self._drop()
        lost_at = time.monotonic()
        attempt = 0
        if not first:
            self._backoff(attempt, lost_at, reason)
            attempt += 1
        while True:
            try:
                self._conn = self._open()
            except FramecastError as e:
                if e.code not in RETRYABLE_CODES:
                    self._conn = None
                    self.close()
                    raise
                reason = str(e)
                self._backoff(attempt, lost_at, reason)
                attempt += 1
                continue
            if not first:
                self.reconnects += 1
                self.gap_seconds += time.monotonic() - lost_at
            return

    def _backoff(self, attempt: int, lost_at: float, reason: str) -> None:
        down = time.monotonic() - lost_at
        limit = self.reconnect_timeout
        if limit > 0 and down >= limit:
            self._conn = None
            self.close()
            raise FramecastError("ERR_CONNECT", f"{self.address} did not come back within {limit:g} s (last: {reason})")
        delay = backoff_delay(attempt)
        if limit > 0:
            delay = max(0.0, min(delay, limit - down))
        if self.on_reconnect is not None:
            self.on_reconnect(attempt + 1, delay, reason)
        time.sleep(delay)
