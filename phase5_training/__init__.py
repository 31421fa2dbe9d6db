"""Phase 5: an MLP trained on MNIST entirely on the GPU with the project's own kernels, with a
CPU path on Phase 3's C library. Not built yet (issue #5)."""
