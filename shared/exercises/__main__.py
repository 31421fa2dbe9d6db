"""`python -m shared.exercises`: the command line of cli.py."""

import sys

from shared.exercises.cli import main

sys.exit(main())
