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


WRITER = """
import sys
from shared.files import atomic_write_bytes
path = sys.argv[1]
for version in range(10**6):
    # 2 MB a version, each byte the version number: a half-written file would show
    atomic_write_bytes(path, bytes([version % 256]) * 2_000_000)
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.35, 0.6])
def test_a_writer_killed_at_any_moment_leaves_a_whole_file_and_its_temporary_goes(tmp_path, delay):
    import subprocess
    import sys
    import time

    target = tmp_path / "state.bin"
    writer = subprocess.Popen([sys.executable, "-P", "-c", WRITER, str(target)])
    time.sleep(delay)
    writer.kill()  # SIGKILL (TerminateProcess on Windows): no handler, no cleanup, as a power cut
    writer.wait()
    if target.exists():  # never half a file: the previous complete version, whole
        data = target.read_bytes()
        assert len(data) == 2_000_000 and data == data[:1] * len(data)
    # the next write removes what the dead writer left, and leaves nothing of its own
    atomic_write_bytes(target, b"fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]


def test_temporaries_of_a_live_writer_are_left_alone(tmp_path):
    import os

    from shared.files import remove_stale_temporaries

    target = tmp_path / "state.bin"
    mine = tmp_path / f".state.bin.{os.getpid()}.abc.tmp"  # a write in progress: ours
    gone = tmp_path / ".state.bin.999999999.abc.tmp"  # no such process
    other = tmp_path / ".other.bin.999999999.abc.tmp"  # another file's
    for p in (mine, gone, other):
        p.write_bytes(b"x")
    assert remove_stale_temporaries(target) == [gone]
    assert mine.exists() and other.exists()
