"""``python -m sosw``: the command line."""

import sys

from sosw.cli import main

sys.exit(main())
