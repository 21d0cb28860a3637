"""``python -m framecast``: see framecast.cli."""

import sys

from .cli import main

sys.exit(main())
