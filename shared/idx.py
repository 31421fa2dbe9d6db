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
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

from shared.files import atomic_write_bytes

__all__ = [
    "MAX_DIMS",
    "MAX_EXPANSION",
    "IdxError",
    "decode_idx",
    "encode_idx",
    "read_idx",
    "read_idx_bytes",
    "write_idx",
]

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


#: the most dimensions an IDX file may have here (NumPy's arrays hold up to 64; MNIST's have 3)
MAX_DIMS = 32
#: the most a gzipped file's header may ask for, as a multiple of the file's size on disk:
#: MNIST's images compress about 5:1; a header asking a thousand times more is refused before
#: anything is decompressed (200 KB of gzip must not become 400 MB in memory)
MAX_EXPANSION = 64


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's IDX payload: decompressed when the file starts with the gzip magic. The header
    is read first and its sizes checked against the file's: a payload that would not fit them
    (or that a small gzip file would have to grow a thousandfold to fill) is refused unread."""
    path = Path(path)
    try:
        st = os.stat(path)
        size = st.st_size
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block, a folder cannot be read
            raise IdxError(f"{path}: cannot be read (not a regular file)")
        with open(path, "rb") as raw:
            if raw.read(2) != _GZIP_MAGIC:
                raw.seek(0)
                return _read_payload(raw, str(path), None, size)  # reads no more than is there
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as f:
                return _read_payload(f, str(path), MAX_EXPANSION * size + (1 << 20), size)
    except FileNotFoundError:
        raise IdxError(f"{path}: no such file") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise IdxError(f"{path}: corrupted or truncated gzip data ({e})") from None
    except OSError as e:  # no permission, a folder, an I/O error
        raise IdxError(f"{path}: cannot be read ({e.strerror or e})") from None


def _read_payload(f, name: str, most: int | None, on_disk: int) -> bytes:
    """Header, then exactly the bytes it asks for (and one more, to see trailing data), from the
    stream `f`, if they are at most `most` (None: no limit); decode_idx then checks the whole."""
    head = f.read(4)
    if len(head) < 4 or head[:2] != b"\0\0" or head[3] > MAX_DIMS:
        return head  # decode_idx names what is wrong with it
    head += f.read(4 * head[3])
    if len(head) < 4 + 4 * head[3] or head[2] not in _DTYPES:
        return head
    need = math.prod(struct.unpack(f">{head[3]}I", head[4:])) * _DTYPES[head[2]].itemsize
    if most is not None and need > most:
        shape = "x".join(map(str, struct.unpack(f">{head[3]}I", head[4:])))
        raise IdxError(
            f"{name}: its header asks for {need:,} bytes ({shape}), more than a file of "
            f"{on_disk:,} bytes can hold"
        )
    # read(n) may make room for n bytes at once: never ask a raw file for more than it has
    return head + f.read(min(need, on_disk if most is None else most) + 1)


def decode_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX payload into a native-endian array (a copy: safe to modify)."""
    if len(data) < 4:
        raise IdxError(f"{name}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise IdxError(f"{name}: bad magic number 0x{data[:4].hex()} (an IDX file starts 00 00)")
    if code not in _DTYPES:
        raise IdxError(f"{name}: unknown IDX type code 0x{code:02x}")
    if ndim > MAX_DIMS:
        raise IdxError(
            f"{name}: {ndim} dimensions, more than the {MAX_DIMS} an IDX file may have here"
        )
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
