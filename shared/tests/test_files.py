"""Atomic writes: the old content survives a failed write and no temporary file is left."""

import pytest

from shared.files import atomic_write, atomic_write_bytes, atomic_write_text


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "a" / "b.txt"
    atomic_write_text(path, "one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.txt"]


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"good")

    def half_then_crash(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_crash)
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_the_file_gets_the_mode_a_plain_open_would_give(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "m.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # 0666 less the umask, not mkstemp's 0600
