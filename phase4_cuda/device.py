"""Host-side plumbing for Phase 4's kernels: is there a GPU (or the simulator), turning what a
caller passes into the float32, C-contiguous device arrays the kernels read, and configuring a
launch (with more than 48 KB of dynamic shared memory where a kernel asks for it).

What the host functions accept (one rule for all of them):
- NumPy arrays of any real dtype and layout: copied to the device as C-contiguous float32 (a
  float64 array is rounded to float32: the kernels compute in float32, like cuBLAS SGEMM);
- numba device arrays (or any `__cuda_array_interface__` object): used in place, so data stays on
  the GPU between calls; they must already be float32 and C-contiguous, since converting them
  would silently copy on the device.
Anything else (complex, bool, object, empty, wrong number of dimensions) raises a clear error.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import cuda

__all__ = [
    "DEFAULT_SHARED",
    "NoGPUError",
    "allow_shared",
    "as_device",
    "configure",
    "gpu_name",
    "is_device_array",
    "require_gpu",
    "simulated",
]

SIMULATOR_SWITCH = "NUMBA_ENABLE_CUDASIM=1"


class NoGPUError(RuntimeError):
    """No CUDA GPU is usable and the simulator is off."""


def simulated() -> bool:
    """True when numba runs kernels in its CUDA simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def require_gpu() -> None:
    """Raise NoGPUError, naming the simulator switch, unless kernels can run here."""
    if simulated() or cuda.is_available():
        return
    raise NoGPUError(
        "no CUDA GPU is available (numba.cuda.is_available() is False). Run on a machine with an "
        f"NVIDIA GPU and driver, or set {SIMULATOR_SWITCH} to run the same kernels in numba's "
        "CUDA simulator on the CPU (slow: small sizes only)."
    )


def gpu_name() -> str:
    if simulated():
        return "numba CUDA simulator"
    require_gpu()
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def is_device_array(x: object) -> bool:
    """A numba device array, anything exposing `__cuda_array_interface__` (CuPy, PyTorch), or the
    simulator's stand-in for a device array (which has neither)."""
    if simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return isinstance(x, FakeCUDAArray)
    return cuda.is_cuda_array(x)


def as_device(x: object, name: str, ndim: int) -> object:
    """`x` as a C-contiguous float32 device array with `ndim` dimensions (see the module docstring)."""
    if is_device_array(x):
        d = x if simulated() else cuda.as_cuda_array(x)
        if d.dtype != np.float32:
            raise TypeError(
                f"{name}: device arrays must be float32, got {d.dtype} (convert it first)"
            )
        if d.ndim != ndim:
            raise ValueError(f"{name}: expected {ndim} dimensions, got shape {d.shape}")
        if not d.is_c_contiguous():
            raise ValueError(
                f"{name}: device arrays must be C-contiguous (copy it with .copy_to_device)"
            )
        if d.size == 0:
            raise ValueError(f"{name}: empty array of shape {d.shape}")
        return d
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy or CUDA device array, got {type(x).__name__}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name}: empty array of shape {x.shape}")
    return cuda.to_device(np.ascontiguousarray(x, dtype=np.float32))


#: numba's low-occupancy hint, as a `warnings` filter (which matches from the message's start;
#: numba may open it with a terminal escape that makes it bold)
LOW_OCCUPANCY_HINT = r".*Grid size \d+ will likely result in GPU under-utilization"


def configure(kernel, grid, block, stream=0, shared=0):
    """`kernel[grid, block, stream, shared]`: a launch configuration (`shared`: bytes of dynamic
    shared memory, see allow_shared), without numba's low-occupancy hint.

    numba warns for every configuration of fewer than 128 blocks. The project's small grids are
    chosen on purpose (a 128-row batch gives a product few tiles, and the kernel check runs tiny
    shapes), so the hint would only fill the output with one warning per configuration.

    In numba's simulator, `kernel[grid, block]` writes the grid into the kernel object itself and
    returns that object, so of two configurations kept for later (a planned step keeps one per
    launch) both would run with the last one's grid. There the configuration is made at each
    call instead."""
    if simulated():
        return lambda *args: kernel[grid, block, stream, shared](*args)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=LOW_OCCUPANCY_HINT)
        return kernel[grid, block, stream, shared]


#: dynamic shared memory a block gets without the opt-in
DEFAULT_SHARED = 48 * 1024
_RAISED: set = set()


def allow_shared(kernel, args, nbytes: int) -> None:
    """Let `kernel`, as compiled for `args`, take `nbytes` of dynamic shared memory.

    A block gets 48 KB unless its kernel opts in to more, per kernel, through the driver
    attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. numba-cuda has no API for it:
    the only way to the kernel's driver handle is the private `_codelibrary.get_cufunc()` of
    the compiled overload, which this function alone touches (test_wgmma has a GPU test of it).
    With library loading that handle is a CUkernel, so the call is cuKernelSetAttribute
    (cuFuncSetAttribute refuses it). A no-op in the simulator and at 48 KB or less."""
    if simulated() or nbytes <= DEFAULT_SHARED:
        return
    compiled = kernel.compile(tuple(kernel.typeof_pyval(x) for x in args))
    if (id(compiled), nbytes) in _RAISED:
        return
    from cuda.bindings import driver

    handle = compiled._codelibrary.get_cufunc().handle
    attribute = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    err, device = driver.cuCtxGetDevice()
    if err == driver.CUresult.CUDA_SUCCESS:
        (err,) = driver.cuKernelSetAttribute(attribute, nbytes, handle, device)
    if err != driver.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"could not give the kernel {nbytes} bytes of shared memory: {err}")
    _RAISED.add((id(compiled), nbytes))


if simulated():  # every kernel of the project then runs under a block scheduler that waits
    from phase4_cuda import simulator

    simulator.install()
