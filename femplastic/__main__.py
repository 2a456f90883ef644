"""``python -m femplastic``: the same command as ``femplastic``."""

import sys

from .cli.main import main

sys.exit(main())
