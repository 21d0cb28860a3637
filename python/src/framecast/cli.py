"""``python -m framecast``: ``view`` shows a stream in the seed's RECIBIDO window (or receives it headless);
``publish`` sends a webcam or a video file into a stream, showing the seed's TRANSMITIENDO window.

Exit codes, as ``framecast play``: 0 success (the stream ended, ``--frames`` reached, ``q``, Ctrl-C),
1 runtime error (refused, lost connection, ...), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import signal
import sys
import time
from types import FrameType
from typing import Any, Dict, List, Optional, Sequence

from . import __version__
from .address import parse_address
from .client import Client, Frame, Status
from .errors import FramecastError
from .publisher import Publisher

__all__ = ["main", "Stats"]

WINDOW = "RECIBIDO"
PUBLISH_WINDOW = "TRANSMITIENDO"
#: The seed's servidor.py scales every frame to this width (imutils.resize: the height keeps the aspect).
PUBLISH_WIDTH = 800
#: The seed client recomputes its FPS overlay every 40 frames.
FPS_EVERY = 40

HELP = """Usage: python -m framecast <command> [options]

Commands:
  view [HOST[:PORT][/STREAM]]   receive a stream (framecast's or the seed's servidor.py) and show it
  publish SOURCE HOST[:PORT]/STREAM
                                send a webcam (0, 1, ...) or a video file into a stream whose
                                source is publisher, in the seed's TRANSMITIENDO window

Run 'python -m framecast view --help' (or 'publish --help') for the options."""


class _Stop(Exception):
    """SIGTERM: finish like Ctrl-C."""


class Stats:
    """Counts received frames for the summary line (the fields of ``framecast play --json``)."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.width: Optional[int] = None
        self.height: Optional[int] = None
        self.first_seq: Optional[int] = None
        self.last_seq: Optional[int] = None
        self.latencies: List[float] = []
        self._first: Optional[float] = None
        self._last = 0.0

    def add(self, f: Frame) -> None:
        if self._first is None:
            self._first = f.received_at
            self.first_seq = f.seq
        self._last = f.received_at
        self.last_seq = f.seq
        self.frames += 1
        self.bytes += f.wire_bytes
        self.width, self.height = f.width, f.height
        if f.latency_ms is not None and len(self.latencies) < 1_000_000:
            self.latencies.append(f.latency_ms)

    def latency(self) -> Optional[Dict[str, float]]:
        if not self.latencies:
            return None
        s = sorted(self.latencies)

        def pct(p: float) -> float:
            i = min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))
            return round(s[i], 2)

        return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": round(s[-1], 2), "samples": len(s)}

    def summary(self, client: Optional[Client]) -> Dict[str, Any]:
        seconds = 0.0 if self._first is None else max(0.0, (self._last - self._first) / 1000.0)
        clock = client.clock if client else None
        end = client.end if client else None
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "seconds": round(seconds, 3),
            "fps": round((self.frames - 1) / seconds, 2) if seconds > 0 else 0,
            "width": self.width,
            "height": self.height,
            "badFrames": client.bad_frames if client else 0,
            "protocol": client.protocol if client else None,
            "server": client.server if client else None,
            "firstSeq": self.first_seq,
            "lastSeq": self.last_seq,
            "latencyMs": self.latency(),
            "clock": None
            if clock is None
            else {
                "sync": "same-host" if clock.same_host else "offset-corrected",
                "offsetMs": round(clock.offset_ms, 3),
                "rttMs": round(clock.rtt_ms, 3),
            },
            "reconnects": client.reconnects if client else 0,
            "end": None if end is None else {"reason": end.name, "message": end.message},
        }


def _view_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m framecast view",
        description="Receives a framecast (or seed servidor.py) stream and shows it in a window with its FPS "
        "('q' quits). Default address 127.0.0.1:9999.",
    )
    p.add_argument("address", nargs="?", default="127.0.0.1:9999", help="HOST[:PORT][/STREAM]")
    p.add_argument("--frames", type=int, default=0, metavar="N", help="stop after N frames")
    p.add_argument(
        "--no-window",
        action="store_true",
        help="receive without a window (no OpenCV needed) and print a JSON summary line on stdout",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line on stdout")
    p.add_argument(
        "--token",
        default=os.environ.get("FRAMECAST_TOKEN") or None,
        help="token for a server started with --token (default: $FRAMECAST_TOKEN)",
    )
    p.add_argument("--protocol", choices=("auto", "native", "legacy"), default="auto")
    p.add_argument("--reconnect", action="store_true", help="retry with backoff when the server goes away")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="connect / idle timeout (default 10)")
    return p


def _open_window() -> Any:
    """cv2, ready for a window; raises SystemExit-worthy errors as (code, message)."""
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError as e:
        raise _Fail(1, f"the window needs OpenCV (apt-get install python3-opencv); --no-window works without: {e}")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise _Fail(2, "no display to open a window on (DISPLAY is not set); use --no-window")
    return cv2


class _FpsWindow:
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


class _Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def view(argv: Sequence[str]) -> int:
    args = _view_parser().parse_args(list(argv))
    if args.frames < 0:
        print("framecast: --frames must be 0 or more", file=sys.stderr)
        return 2
    if args.timeout < 0:
        print("framecast: --timeout must be 0 or more", file=sys.stderr)
        return 2
    json_out = args.json or args.no_window
    try:
        address = parse_address(args.address)
        if args.protocol == "legacy" and address.named:
            raise FramecastError("ERR_USAGE", "the seed framing (--protocol legacy) has no named streams")
    except FramecastError as e:
        print(f"framecast: {e}", file=sys.stderr)
        return 2
    try:
        cv2 = None if args.no_window else _open_window()
    except _Fail as e:
        print(f"framecast: {e}", file=sys.stderr)
        return e.code

    def on_status(s: Status) -> None:
        print(f"server: {s.message}", file=sys.stderr)

    def on_reconnect(attempt: int, delay: float, reason: str) -> None:
        print(f"{reason}; reconnecting in {delay:.1f} s (attempt {attempt})", file=sys.stderr)

    def on_term(_signum: int, _frame: Optional[FrameType]) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    stats = Stats()
    client: Optional[Client] = None
    error: Optional[FramecastError] = None
    window = _FpsWindow(cv2, WINDOW) if cv2 is not None else None
    try:
        client = Client(
            address,
            token=args.token,
            reconnect=args.reconnect,
            timeout=args.timeout,
            protocol=args.protocol,
            on_status=on_status,
            on_reconnect=on_reconnect,
        )
        for frame in client:
            stats.add(frame)
            if window is not None and not window.show(frame.image()):
                break
            if args.frames and stats.frames >= args.frames:
                break
    except FramecastError as e:
        error = e
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if client is not None:
            client.close()
        if window is not None:
            window.close()
    summary = stats.summary(client)
    if error is not None:
        summary["error"] = {"code": error.code, "message": str(error)}
    if json_out:
        print(json.dumps(summary), flush=True)
    else:
        size = f"{stats.width}x{stats.height}" if stats.width else "no frames"
        lat = summary["latencyMs"]
        lat_text = f", latency p50 {lat['p50']} ms p99 {lat['p99']} ms" if lat else ""
        print(
            f"received {stats.frames} frames ({size}) from {args.address} in {summary['seconds']:.1f} s: "
            f"{summary['fps']:.1f} fps, {summary['badFrames']} bad frames{lat_text} [{summary['protocol']}]",
            file=sys.stderr,
        )
    if error is not None:
        hint = " (give the token with --token or FRAMECAST_TOKEN)" if error.code == "ERR_AUTH" else ""
        print(f"framecast: {error}{hint}", file=sys.stderr)
        return 2 if error.code == "ERR_USAGE" else 1
    return 0


def _publish_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m framecast publish",
        description="Reads a webcam or a video file with OpenCV, scales it to 800 pixels wide and sends it as "
        "JPEG into a stream whose source is publisher, showing the seed's TRANSMITIENDO window with its FPS "
        "('q' quits). Files are paced at their own frame rate and every frame is sent; a webcam sends its "
        "latest frame (frames the server has not taken yet are dropped).",
    )
    p.add_argument("source", help="a webcam index (0, 1, ...) or a video file (anything cv2.VideoCapture opens)")
    p.add_argument("address", help="HOST[:PORT]/STREAM (the stream's source must be publisher)")
    p.add_argument(
        "--token",
        default=os.environ.get("FRAMECAST_PUBLISH_TOKEN") or None,
        help="the stream's publish token or the server's token (default: $FRAMECAST_PUBLISH_TOKEN)",
    )
    p.add_argument("--quality", type=int, default=80, metavar="Q", help="JPEG quality 1-100 (default 80)")
    p.add_argument(
        "--fps", type=float, default=None, metavar="F", help="frame rate (default: a file's own, a webcam's)"
    )
    p.add_argument("--frames", type=int, default=0, metavar="N", help="stop after N frames")
    p.add_argument("--no-window", action="store_true", help="publish without a window")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line on stdout")
    p.add_argument("--no-reconnect", action="store_true", help="a lost server ends publish (exit code 1)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="connect / send timeout (default 10)")
    return p


def _resize_like_the_seed(cv2: Any, img: Any) -> Any:
    """imutils.resize(img, width=800): the height follows the aspect ratio, INTER_AREA."""
    h, w = img.shape[:2]
    if w == PUBLISH_WIDTH:
        return img
    return cv2.resize(img, (PUBLISH_WIDTH, int(h * (PUBLISH_WIDTH / float(w)))), interpolation=cv2.INTER_AREA)


def publish(argv: Sequence[str]) -> int:
    args = _publish_parser().parse_args(list(argv))
    problems = []
    if not 1 <= args.quality <= 100:
        problems.append("--quality must be from 1 to 100")
    if args.fps is not None and not 0.1 <= args.fps <= 1000:
        problems.append("--fps must be from 0.1 to 1000")
    if args.frames < 0:
        problems.append("--frames must be 0 or more")
    if args.timeout < 0:
        problems.append("--timeout must be 0 or more")
    try:
        address = parse_address(args.address)
    except FramecastError as e:
        problems.append(str(e))
    if problems:
        for problem in problems:
            print(f"framecast: {problem}", file=sys.stderr)
        return 2
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError as e:
        print(f"framecast: publish reads its source with OpenCV (apt-get install python3-opencv): {e}",
              file=sys.stderr)
        return 1
    try:
        if not args.no_window:
            _open_window()
    except _Fail as e:
        print(f"framecast: {e}", file=sys.stderr)
        return e.code
    camera = args.source.isdigit()
    if not camera and "://" not in args.source and not os.path.exists(args.source):
        print(f"framecast: no such file: {args.source}", file=sys.stderr)
        return 1
    capture = cv2.VideoCapture(int(args.source) if camera else args.source)
    if not capture.isOpened():
        capture.release()
        what = f"webcam {args.source}" if camera else args.source
        print(f"framecast: OpenCV cannot open {what}", file=sys.stderr)
        return 1
    rate = args.fps
    if rate is None and not camera:
        own = capture.get(cv2.CAP_PROP_FPS) or 0.0
        rate = own if 1 <= own <= 1000 else 30.0
    interval = 1.0 / rate if rate else 0.0

    def on_reconnect(attempt: int, delay: float, reason: str) -> None:
        print(f"{reason}; reconnecting in {delay:.1f} s (attempt {attempt})", file=sys.stderr)

    def on_term(_signum: int, _frame: Optional[FrameType]) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    pub: Optional[Publisher] = None
    error: Optional[FramecastError] = None
    frames = 0
    started = time.monotonic()
    window = None if args.no_window else _FpsWindow(cv2, PUBLISH_WINDOW)
    try:
        # A file sends every frame (the server paces it); a webcam sends its latest frame (latest frame wins).
        pub = Publisher(
            address,
            token=args.token,
            reconnect=not args.no_reconnect,
            timeout=args.timeout,
            quality=args.quality,
            block=not camera,
            on_reconnect=on_reconnect,
        )
        started = time.monotonic()
        if window is not None:
            window.restart()
        due = started
        while not args.frames or frames < args.frames:
            ok, img = capture.read()
            if not ok:
                if camera:
                    raise FramecastError("ERR_SOURCE", f"webcam {args.source} stopped delivering frames")
                break  # end of the file
            now = time.monotonic()
            if interval:
                if camera:
                    if now < due:
                        continue  # --fps below the webcam's rate: skip this one
                else:
                    if due > now:
                        time.sleep(due - now)
                    now = time.monotonic()
                due = max(due + interval, now - interval)  # no burst to catch up after a stall
            taken = time.time() * 1000.0
            img = _resize_like_the_seed(cv2, img)
            pub.send_image(img, captured_at=taken)
            frames += 1
            # The overlay is drawn after encoding (not sent).
            if window is not None and not window.show(img):
                break
    except FramecastError as e:
        error = e
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if pub is not None:
            pub.close()
        capture.release()
        if window is not None:
            window.close()
    seconds = time.monotonic() - started
    summary: Dict[str, Any] = {
        "frames": frames,
        "accepted": pub.accepted if pub else 0,
        "dropped": pub.dropped if pub else 0,
        "bytes": pub.bytes if pub else 0,
        "seconds": round(seconds, 3),
        "fps": round((pub.accepted if pub else 0) / max(seconds, 1e-3), 1),
        "reconnects": pub.reconnects if pub else 0,
    }
    if error is not None:
        summary["error"] = {"code": error.code, "message": str(error)}
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(
            f"published {summary['accepted']} of {frames} frames to {address} in {seconds:.1f} s "
            f"({summary['fps']} fps, {summary['bytes'] // 1024} kB, {summary['dropped']} dropped, "
            f"{summary['reconnects']} reconnects)",
            file=sys.stderr,
        )
    if error is not None:
        hint = " (give the publish token with --token or FRAMECAST_PUBLISH_TOKEN)" if error.code == "ERR_AUTH" else ""
        print(f"framecast: {error}{hint}", file=sys.stderr)
        return 2 if error.code == "ERR_USAGE" else 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else (None, [])
    if command == "view":
        return view(rest)
    if command == "publish":
        return publish(rest)
    if command in ("--version", "-V"):
        print(__version__)
        return 0
    if command in ("-h", "--help", "help"):
        print(HELP)
        return 0
    if command is None:
        print(HELP, file=sys.stderr)
        return 2
    print(f"framecast: unknown command '{command}' (expected view or publish)\n{HELP}", file=sys.stderr)
    return 2
