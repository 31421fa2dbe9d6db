"""Phase 5: an MLP trained on MNIST with the project's own kernels.

The model and its float64 reference step are Phase 2's (phase2_numpy); here: checkpoints
(checkpoint.py), the trainers' contract (trainer.py), the CPU trainer on Phase 3's C library
(cpu.py), the GPU trainer on Phase 4's kernels (gpu.py, gpu_kernels.py, gpu_products.py,
gpu_graphs.py) and its persistent step (persistent.py, persistent_kernel.py, persistent_tiles.py),
the training loop with
evaluation and atomic artefacts (train.py), and the command line (`python -m phase5_training`).
"""
