"""``python -m framecast publish``: sends a webcam or a video file, scaled like the seed's servidor.py, into a
stream whose source is ``publisher``, in the seed's TRANSMITIENDO window."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from typing import Any, Dict, Optional, Sequence

from .address import parse_address
from .cli_common import Fail, FpsWindow, Stop, on_term, open_window, print_reconnect
from .errors import FramecastError
from .publisher import Publisher

__all__ = ["publish", "PUBLISH_WINDOW", "PUBLISH_WIDTH"]

PUBLISH_WINDOW = "TRANSMITIENDO"
#: The seed's servidor.py scales every frame to this width (imutils.resize: the height keeps the aspect).
PUBLISH_WIDTH = 800


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
    """``python -m framecast publish SOURCE ADDRESS [options]``; returns the exit code."""
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
            open_window()
    except Fail as e:
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

    previous = signal.signal(signal.SIGTERM, on_term)
    pub: Optional[Publisher] = None
    error: Optional[FramecastError] = None
    frames = 0
    started = time.monotonic()
    window = None if args.no_window else FpsWindow(cv2, PUBLISH_WINDOW)
    try:
        # A file sends every frame (the server paces it); a webcam sends its latest frame (latest frame wins).
        pub = Publisher(
            address,
            token=args.token,
            reconnect=not args.no_reconnect,
            timeout=args.timeout,
            quality=args.quality,
            block=not camera,
            on_reconnect=print_reconnect,
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
    except (KeyboardInterrupt, Stop):
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
