"""``python -m framecast``: ``view`` shows a stream in the seed's RECIBIDO window (or receives it headless);
``publish`` sends a webcam or a video file into a stream, showing the seed's TRANSMITIENDO window.

Exit codes, as ``framecast play``: 0 success (the stream ended, ``--frames`` reached, ``q``, Ctrl-C),
1 runtime error (refused, lost connection, ...), 2 usage error.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from . import __version__
from .cli_common import FPS_EVERY, FpsWindow  # noqa: F401  (re-exported)
from .cli_publish import PUBLISH_WIDTH, PUBLISH_WINDOW, publish  # noqa: F401  (re-exported)
from .cli_view import WINDOW, Stats, view  # noqa: F401  (re-exported)

__all__ = ["main", "Stats"]

# Importable from here as before the commands moved to cli_view.py and cli_publish.py.
_FpsWindow = FpsWindow

HELP = """Usage: python -m framecast <command> [options]

Commands:
  view [HOST[:PORT][/STREAM]]   receive a stream (framecast's or the seed's servidor.py) and show it
  publish SOURCE HOST[:PORT]/STREAM
                                send a webcam (0, 1, ...) or a video file into a stream whose
                                source is publisher, in the seed's TRANSMITIENDO window

Run 'python -m framecast view --help' (or 'publish --help') for the options."""


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
