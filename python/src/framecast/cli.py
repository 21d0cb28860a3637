"""``python -m framecast``: ``view`` shows a stream in the seed's RECIBIDO window (or receives it headless).

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

__all__ = ["main", "Stats"]

WINDOW = "RECIBIDO"
#: The seed client recomputes its FPS overlay every 40 frames.
FPS_EVERY = 40

HELP = """Usage: python -m framecast <command> [options]

Commands:
  view [HOST[:PORT][/STREAM]]   receive a stream (framecast's or the seed's servidor.py) and show it
  publish                       not yet available

Run 'python -m framecast view --help' for its options."""


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
    fps, counted, window_start = 0, 0, time.monotonic()
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
            if cv2 is not None:
                img = frame.image()
                # The seed's overlay: FPS recomputed every 40 frames.
                counted += 1
                if counted == FPS_EVERY:
                    now = time.monotonic()
                    fps = round(FPS_EVERY / max(now - window_start, 1e-6))
                    window_start, counted = now, 0
                img = cv2.putText(img, "FPS: " + str(fps), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
                cv2.imshow(WINDOW, img)
                key = cv2.waitKey(1) & 0xFF
                if key == ord("q") or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
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
        if cv2 is not None:
            try:
                cv2.destroyAllWindows()
            except Exception:
                pass
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else (None, [])
    if command == "view":
        return view(rest)
    if command == "publish":
        print(
            "framecast: publish: not yet available (the publish protocol does not exist yet); "
            "use 'python -m framecast view' to receive",
            file=sys.stderr,
        )
        return 2
    if command in ("--version", "-V"):
        print(__version__)
        return 0
    if command in ("-h", "--help", "help"):
        print(HELP)
        return 0
    if command is None:
        print(HELP, file=sys.stderr)
        return 2
    print(f"framecast: unknown command '{command}' (expected view)\n{HELP}", file=sys.stderr)
    return 2
