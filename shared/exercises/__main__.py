"""`python -m shared.exercises`: the command line of cli.py."""

import os
import signal
import sys

from shared.exercises.cli import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:  # `list | head`: the reader left, nothing more to say
    # (Python's own advice: point stdout at devnull so that the flush at exit does not fail)
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 1
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    code = 128 + signal.SIGINT
sys.exit(code)
