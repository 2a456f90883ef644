"""``python -m femplastic``: the same command as ``femplastic``."""

import sys

try:
    from .cli import entry
except KeyboardInterrupt:  # Ctrl-C while the command is still being imported
    print("femplastic: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(entry())
