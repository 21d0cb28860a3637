"""What ``view`` and ``publish`` share on the terminal: the seed's window with its FPS overlay, SIGTERM
finishing like Ctrl-C, the reconnect line, and failures that carry their exit code."""

from __future__ import annotations

import importlib
import os
import sys
import time
from types import FrameType
from typing import Any, Optional

__all__ = ["FPS_EVERY", "FpsWindow", "Fail", "Stop", "open_window", "on_term", "print_reconnect"]

#: The seed client recomputes its FPS overlay every 40 frames.
FPS_EVERY = 40


class Stop(Exception):
    """SIGTERM: finish like Ctrl-C."""


def on_term(_signum: int, _frame: Optional[FrameType]) -> None:
    """The SIGTERM handler of both commands: raises Stop where the main loop runs."""
    raise Stop()


def print_reconnect(attempt: int, delay: float, reason: str) -> None:
    """The ``on_reconnect`` of both commands: one line on stderr per attempt."""
    print(f"{reason}; reconnecting in {delay:.1f} s (attempt {attempt})", file=sys.stderr)


def open_window() -> Any:
    """cv2, ready for a window; raises SystemExit-worthy errors as (code, message)."""
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError as e:
        raise Fail(1, f"the window needs OpenCV (apt-get install python3-opencv); --no-window works without: {e}")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise Fail(2, "no display to open a window on (DISPLAY is not set); use --no-window")
    return cv2


class FpsWindow:
    """The seed's window: its FPS overlay (recomputed every 40 frames); 'q' or closing it stops."""

    def __init__(self, cv2: Any, title: str) -> None:
        self.cv2, self.title = cv2, title
        self.fps, self.counted, self.window_start = 0, 0, time.monotonic()

    def restart(self) -> None:
        self.counted, self.window_start = 0, time.monotonic()

    def show(self, img: Any) -> bool:
        """Shows `img` with the overlay; False when the user asked to stop."""
        cv2 = self.cv2
        self.counted += 1
        if self.counted == FPS_EVERY:
            now = time.monotonic()
            self.fps = round(FPS_EVERY / max(now - self.window_start, 1e-6))
            self.window_start, self.counted = now, 0
        img = cv2.putText(img, "FPS: " + str(self.fps), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
        cv2.imshow(self.title, img)
        key = cv2.waitKey(1) & 0xFF
        return not (key == ord("q") or cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1)

    def close(self) -> None:
        try:
            self.cv2.destroyAllWindows()
        except Exception:
            pass


class Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
