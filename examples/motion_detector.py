#!/usr/bin/env python3
"""A framecast analyzer: watches a stream, finds what moves with OpenCV's background subtraction (MOG2), and
annotates each frame with the boxes, so every viewer that asks for annotations (the browser viewer,
``framecast play --json-frames --annotations``, ``connect(..., annotations=True)``) sees them on that frame:

    {"objects": [{"box": [x, y, w, h], "label": "motion", "score": 0.83}, ...]}

Boxes are in the frame's pixels; ``score`` is the share of the box's pixels that moved. Usage:

    python3 examples/motion_detector.py 127.0.0.1:9999/cam [--token T] [--name motion] [--frames N]
                                        [--min-area PIXELS] [--quiet]

Needs the framecast package (``pip install ./python``, or run from a checkout: this file finds ../python/src),
OpenCV and numpy (Debian/Ubuntu: apt-get install python3-opencv). The stream's ``annotateToken`` (or the
server's token) goes in ``--token`` or FRAMECAST_TOKEN when the server has tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

try:
    import framecast
except ImportError:  # a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "src"))
    import framecast

import cv2
import numpy as np


class MotionDetector:
    """MOG2 background subtraction, then the outer contours of what moved, as boxes."""

    def __init__(self, min_area: int) -> None:
        self.min_area = min_area
        self.subtractor = cv2.createBackgroundSubtractorMOG2(history=200, varThreshold=25, detectShadows=False)
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def objects(self, image: Any) -> List[Dict[str, Any]]:
        mask = self.subtractor.apply(image)
        _, mask = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.dilate(mask, self.kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out = []
        for c in contours:
            x, y, w, h = (int(v) for v in cv2.boundingRect(c))
            if w * h < self.min_area:
                continue
            score = float(np.count_nonzero(mask[y : y + h, x : x + w])) / float(w * h)
            out.append({"box": [x, y, w, h], "label": "motion", "score": round(score, 3)})
        out.sort(key=lambda o: o["box"][2] * o["box"][3], reverse=True)
        return out[:32]  # the biggest: an annotation stays small


def main() -> int:
    ap = argparse.ArgumentParser(description="Annotate a framecast stream with what moves in it.")
    ap.add_argument("address", help="HOST[:PORT][/STREAM]")
    ap.add_argument("--token", default=os.environ.get("FRAMECAST_TOKEN") or None)
    ap.add_argument("--name", default="motion", help="the analyzer's name (default motion)")
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames (default: run until the end)")
    ap.add_argument("--min-area", type=int, default=100, help="smallest box kept, in pixels (default 100)")
    ap.add_argument("--quiet", action="store_true", help="do not print a JSON line per annotated frame")
    args = ap.parse_args()

    detector = MotionDetector(args.min_area)
    refused: List[str] = []
    n = 0
    try:
        with framecast.connect(
            args.address,
            token=args.token,
            protocol="native",
            annotate=True,
            on_annotation_refused=lambda s: refused.append(f"{s.value} {s.message}"),
        ) as stream:
            for frame in stream:
                objects = detector.objects(frame.image())
                stream.annotate(frame, args.name, {"objects": objects})
                n += 1
                if not args.quiet:
                    print(json.dumps({"seq": frame.seq, "objects": len(objects)}), flush=True)
                if refused:
                    print(f"motion_detector: annotation refused: {refused.pop(0)}", file=sys.stderr)
                if args.frames and n >= args.frames:
                    break
    except framecast.FramecastError as e:
        print(f"motion_detector: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
