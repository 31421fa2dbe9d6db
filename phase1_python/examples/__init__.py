"""Runnable examples of Phase 1: `python -m phase1_python.examples.xor` and `... .mnist`."""
