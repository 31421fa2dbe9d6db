"""The project's command lines parse with argparse, their errors on one line: `error: ...` and
exit code 2, the usage one `--help` away (argparse's own prints the usage first, two lines
more for every error)."""

from __future__ import annotations

import argparse

__all__ = ["OneLineParser"]


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors on one line."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")
