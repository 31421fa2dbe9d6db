"""Code every phase shares: the progress bar, the benchmark harness, atomic file writes, and
data loading (IDX files, MNIST and Fashion-MNIST, mini-batches).

Nothing here is a lesson of its own; each phase's package is.
"""
