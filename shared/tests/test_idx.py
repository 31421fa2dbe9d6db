"""The IDX reader: round trips, gzip, and a clear error for every kind of broken file."""

import gzip
import os
import re
import resource
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.idx import IdxError, decode_idx, encode_idx, read_idx, read_idx_bytes, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0,), (5,), (3, 4), (2, 3, 5)])
def test_round_trip(tmp_path, dtype, shape):
    a = (np.arange(int(np.prod(shape))) % 100).astype(dtype).reshape(shape)
    for name in ("x.idx", "x.idx.gz"):
        write_idx(tmp_path / name, a)
        back = read_idx(tmp_path / name)
        assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)
    assert (tmp_path / "x.idx.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_header_layout_is_big_endian():
    data = encode_idx(np.array([[1, 2, 3]], dtype=np.int16))
    assert data[:4] == bytes([0, 0, 0x0B, 2])
    assert data[4:12] == bytes([0, 0, 0, 1, 0, 0, 0, 3])
    assert data[12:] == bytes([0, 1, 0, 2, 0, 3])


GOOD = encode_idx(np.zeros((2, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "data,message",
    [
        (b"\x00\x00", "too short"),
        (b"\x12\x34" + GOOD[2:], "bad magic number 0x1234"),
        (b"\x00\x00\x07\x02" + GOOD[4:], "unknown IDX type code 0x07"),
        (GOOD[:8], "truncated header"),
        (GOOD[:-1], "truncated: shape (2, 3) of uint8 needs 18 bytes, the file has 17"),
        (GOOD + b"\x00", "has trailing data"),
    ],
)
def test_broken_payloads_are_named(data, message):
    with pytest.raises(IdxError) as info:
        decode_idx(data, "some-file")
    assert str(info.value).startswith("some-file: ") and message in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-10])
    with pytest.raises(IdxError, match=r"cut.gz: corrupted or truncated gzip"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(IdxError, match="no such file"):
        read_idx(tmp_path / "nope")


def test_unsupported_dtype():
    with pytest.raises(TypeError, match="IDX cannot store"):
        encode_idx(np.zeros(3, dtype=np.complex64))


def test_an_unreadable_file_is_an_idx_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.mkdir()  # a folder where a file should be: unreadable as a file, even to root
    with pytest.raises(IdxError, match="cannot be read"):
        read_idx_bytes(path)


def test_dimensions_whose_product_overflows_are_reported_as_they_are():
    header = struct.pack(">HBB4I", 0, 0x08, 4, 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**32 - 1)
    with pytest.raises(IdxError, match=r"truncated: .* needs (\d+) bytes") as caught:
        decode_idx(header + b"\0" * 10)
    needed = int(re.search(r"needs (\d+) bytes", str(caught.value)).group(1))
    assert needed == 20 + (2**32 - 1) ** 4  # exact, and positive


def test_a_small_gzip_file_whose_header_asks_for_much_more_is_refused_unread(tmp_path):
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:  # 200 KB on disk, 427 MB decompressed
        f.write(struct.pack(">HBBIII", 0, 8, 3, 60000, 28, 254))
        for _ in range(427):
            f.write(bytes(1_000_000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(IdxError, match=rf"{path}: its header asks for 426,720,000 bytes"):
        read_idx(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB


@pytest.mark.parametrize("compress", [False, True])
def test_a_header_asking_for_terabytes_is_refused_unread(tmp_path, compress):
    data = struct.pack(">HBBIII", 0, 0x0E, 3, 2**32 - 1, 2**16, 7) + b"x" * 100
    path = tmp_path / ("big.gz" if compress else "big")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IdxError, match=str(path)):
        read_idx(path)


def test_255_dimensions_are_named_with_the_file(tmp_path):
    path = tmp_path / "dims"
    path.write_bytes(struct.pack(">HBB", 0, 8, 255) + bytes(1020))
    with pytest.raises(IdxError, match=rf"{path}: 255 dimensions, more than the 32"):
        read_idx(path)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(IdxError, match="not a regular file"):
        read_idx(fifo)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=64),
    header=st.tuples(
        st.integers(0, 0x0F), st.integers(0, 255), st.lists(st.integers(0, 2**32 - 1), max_size=6)
    ),
    compress=st.booleans(),
)
def test_any_bytes_load_or_raise_one_idx_error_naming_the_file(
    tmp_path_factory, data, header, compress
):
    code, ndim, dims = header
    payload = struct.pack(f">HBB{len(dims)}I", 0, code, ndim, *dims) + data
    path = tmp_path_factory.mktemp("fuzz") / "f"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    try:
        array = read_idx(path)
    except IdxError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
    else:
        assert array.size * array.itemsize <= len(data)
