"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in (raw or gzipped).

Layout (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): two zero bytes, a type code, the
number of dimensions, then each dimension as a big-endian uint32, then the values in C order,
big-endian. Every way a file can be wrong (bad magic, unknown type, too short, too long, a broken
gzip stream) raises `IdxError`, whose message names the file and what is wrong.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from shared.files import atomic_write_bytes

__all__ = ["IdxError", "decode_idx", "encode_idx", "read_idx", "read_idx_bytes", "write_idx"]

# IDX type code -> NumPy dtype (big-endian, as stored).
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """An IDX file is missing, truncated or not an IDX file; the message names which and why."""


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's IDX payload: decompressed when the file starts with the gzip magic."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: no such file") from None
    except OSError as e:  # no permission, a folder, an I/O error
        raise IdxError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IdxError(f"{path}: corrupted or truncated gzip data ({e})") from None


def decode_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX payload into a native-endian array (a copy: safe to modify)."""
    if len(data) < 4:
        raise IdxError(f"{name}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise IdxError(f"{name}: bad magic number 0x{data[:4].hex()} (an IDX file starts 00 00)")
    if code not in _DTYPES:
        raise IdxError(f"{name}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{name}: truncated header: {ndim} dimensions need {header} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _DTYPES[code]
    # Python's integers: a product of four 32-bit sizes can overflow any fixed-width integer
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing data"
        raise IdxError(
            f"{name}: {what}: shape {shape} of {dtype.newbyteorder('=').name} needs "
            f"{expected} bytes, the file has {len(data)}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a raw or gzipped IDX file into a NumPy array."""
    return decode_idx(read_idx_bytes(path), name=str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes (uncompressed) of `array`; its dtype must be one IDX can hold."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(
            f"IDX cannot store dtype {array.dtype}; use one of {sorted(map(str, _CODES))}"
        )
    code = _CODES[native]
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> Path:
    """Write `array` as IDX, atomically; gzipped when `compress` or when the name ends in `.gz`."""
    path = Path(path)
    data = encode_idx(array)
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)
