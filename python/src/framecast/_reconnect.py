"""Reconnect backoff, shared by the reader and the publisher: the delay schedule, and the publisher's
background redialer (a reader redials in its own thread, between two reads)."""

from __future__ import annotations

import random
import threading
from typing import Callable, FrozenSet, Generic, Optional, Tuple, TypeVar

from .errors import FramecastError

__all__ = ["RECONNECT_INITIAL_DELAY", "RECONNECT_MAX_DELAY", "backoff_delay", "Redialer"]

#: Reconnect backoff: first delay, doubling per failed attempt, up to the maximum (seconds).
RECONNECT_INITIAL_DELAY = 0.25
RECONNECT_MAX_DELAY = 5.0

T = TypeVar("T")


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0 first): 0.25 s doubling to 5 s, +-25% jitter so that
    the clients of a restarted server do not all come back in the same instant."""
    return min(RECONNECT_MAX_DELAY, RECONNECT_INITIAL_DELAY * 2**attempt) * (0.75 + random.random() * 0.5)


class Redialer(Generic[T]):
    """Dials again in a background thread, with backoff, until a connection is back, an error that is not worth
    retrying comes, or ``stop()``. The owner takes the result with ``take()`` from its own thread.

    ``dial()`` opens a connection or raises FramecastError; errors whose code is in ``retry_codes`` are retried.
    ``on_attempt(attempt, delay_s, reason)`` is called (from the background thread) before each attempt; what it
    raises is ignored, so a bad callback cannot end the reconnecting.
    """

    def __init__(
        self,
        dial: Callable[[], T],
        close: Callable[[T], None],
        retry_codes: FrozenSet[str],
        on_attempt: Callable[[int, float, str], None],
        thread_name: str,
    ) -> None:
        self._dial = dial
        self._close = close
        self._retry_codes = retry_codes
        self._on_attempt = on_attempt
        self._thread_name = thread_name
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._running = False
        self._incoming: Optional[T] = None
        self._incoming_error: Optional[FramecastError] = None
        #: Why the last attempt failed (or the connection was lost), for timeout messages.
        self.last_reason = ""

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop.is_set()

    def start(self, reason: str) -> None:
        """Starts redialing (``reason``: why the connection went away), unless it already is or was stopped."""
        with self._cond:
            self.last_reason = reason
            if self._running or self._stop.is_set():
                return
            self._running = True
        threading.Thread(target=self._loop, args=(reason,), name=self._thread_name, daemon=True).start()

    def take(self) -> Tuple[Optional[T], Optional[FramecastError]]:
        """The connection that came back and the error that ended the redialing (each None when there is none);
        the owner now holds them."""
        with self._cond:
            conn, self._incoming = self._incoming, None
            err, self._incoming_error = self._incoming_error, None
        return conn, err

    def wait(self, timeout: Optional[float]) -> None:
        """Waits up to ``timeout`` seconds (None: forever) for a connection, an error, or ``stop()``."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._incoming is not None or self._incoming_error is not None or self._stop.is_set(),
                timeout=timeout,
            )

    def stop(self) -> Optional[T]:
        """Stops redialing and wakes ``wait()``; returns a connection that came back and was not taken yet (the
        caller closes it). A connection the thread opens after this is closed by the thread."""
        self._stop.set()
        with self._cond:
            incoming, self._incoming = self._incoming, None
            self._cond.notify_all()
        return incoming

    def _loop(self, reason: str) -> None:
        attempt = 0
        conn: Optional[T] = None
        error: Optional[FramecastError] = None
        while True:
            delay = backoff_delay(attempt)
            attempt += 1
            try:
                self._on_attempt(attempt, delay, reason)
            except Exception:
                pass
            if self._stop.wait(delay):
                break
            try:
                conn = self._dial()
                break
            except FramecastError as e:
                if e.code in self._retry_codes and not self._stop.is_set():
                    reason = str(e)
                    with self._cond:
                        self.last_reason = reason
                    continue
                error = e
                break
        with self._cond:
            self._running = False
            if self._stop.is_set():
                if conn is not None:
                    self._close(conn)
                return
            self._incoming = conn
            self._incoming_error = error
            self._cond.notify_all()
