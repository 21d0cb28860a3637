"""``python -m framecast view``: receives a stream, shows it in the seed's RECIBIDO window (or headless), and
prints a summary line (the fields of ``framecast play --json``)."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from typing import Any, Dict, List, Optional, Sequence

from .address import parse_address
from .cli_common import Fail, FpsWindow, Stop, on_term, open_window, print_reconnect
from .client import Client, Frame, Status
from .errors import FramecastError

__all__ = ["view", "Stats", "WINDOW"]

WINDOW = "RECIBIDO"


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


def view(argv: Sequence[str]) -> int:
    """``python -m framecast view [ADDRESS] [options]``; returns the exit code."""
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
        cv2 = None if args.no_window else open_window()
    except Fail as e:
        print(f"framecast: {e}", file=sys.stderr)
        return e.code

    def on_status(s: Status) -> None:
        print(f"server: {s.message}", file=sys.stderr)

    previous = signal.signal(signal.SIGTERM, on_term)
    stats = Stats()
    client: Optional[Client] = None
    error: Optional[FramecastError] = None
    window = FpsWindow(cv2, WINDOW) if cv2 is not None else None
    try:
        client = Client(
            address,
            token=args.token,
            reconnect=args.reconnect,
            timeout=args.timeout,
            protocol=args.protocol,
            on_status=on_status,
            on_reconnect=print_reconnect,
        )
        for frame in client:
            stats.add(frame)
            if window is not None and not window.show(frame.image()):
                break
            if args.frames and stats.frames >= args.frames:
                break
    except FramecastError as e:
        error = e
    except (KeyboardInterrupt, Stop):
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
