"""``python -m femplastic``: the same command as ``femplastic``."""

import sys

from .cli import main

sys.exit(main())
