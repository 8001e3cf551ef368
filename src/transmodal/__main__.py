"""``python -m transmodal`` (and ``torchrun -m transmodal train ...``) runs the CLI."""

import sys

from transmodal.cli import main

sys.exit(main())
