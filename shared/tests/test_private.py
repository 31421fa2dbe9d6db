"""Private folders: made for the user alone whatever the umask, and any folder or file another
user owns or could write is named before anything in it is read."""

import os

import pytest

from shared.private import distrust, make_private


@pytest.fixture
def loose_umask():
    before = os.umask(0o002)  # group-writable by default, as on many shared machines
    yield
    os.umask(before)


def test_made_for_the_user_alone_whatever_the_umask(tmp_path, loose_umask):
    top = tmp_path / "cache"
    folder = make_private(top / "kernels" / "abc", top)
    for path in (top, top / "kernels", folder):
        assert path.stat().st_mode & 0o777 == 0o700, path
    assert distrust(folder, top) is None


@pytest.mark.parametrize("which", ["top", "middle", "leaf"])
def test_a_folder_others_can_write_is_named(tmp_path, which):
    top = tmp_path / "cache"
    folder = make_private(top / "kernels" / "abc", top)
    loose = {"top": top, "middle": top / "kernels", "leaf": folder}[which]
    loose.chmod(0o775)
    assert distrust(folder, top) == f"{loose} is writable by group or others (mode 0775)"


def test_an_existing_folder_keeps_its_mode(tmp_path):
    top = tmp_path / "cache"
    top.mkdir(mode=0o777)
    top.chmod(0o777)
    make_private(top / "kernels", top)
    assert "writable by group or others" in distrust(top / "kernels", top)


def test_a_parent_others_may_rename_in_is_named_unless_sticky(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    folder = make_private(shared / "cache" / "kernels", shared / "cache")
    assert "writable by others (mode 0777, no sticky bit)" in distrust(folder, shared / "cache")
    shared.chmod(0o1777)  # as /tmp: only the owner may rename what is in it
    assert distrust(folder, shared / "cache") is None


@pytest.mark.skipif(not hasattr(os, "chown") or os.getuid() != 0, reason="needs root to chown")
@pytest.mark.parametrize("what", ["folder", "file"])
def test_what_another_user_owns_is_named(tmp_path, what):
    top = tmp_path / "cache"
    folder = make_private(top / "kernels", top)
    entry = folder / "index.nbi"
    entry.write_bytes(b"x")
    os.chown(folder if what == "folder" else entry, 4242, 4242)
    why = distrust(folder, top)
    assert (
        why == f"{folder if what == 'folder' else entry} belongs to user 4242, not to this one (0)"
    )


def test_owners_are_compared_with_the_running_user(tmp_path, monkeypatch):
    top = tmp_path / "cache"
    folder = make_private(top / "kernels", top)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(folder).st_uid + 1)
    assert "belongs to user" in distrust(folder, top)


def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    top = tmp_path / "cache"
    top.mkdir(mode=0o700)
    (top / "kernels").write_text("not a folder")
    assert distrust(top / "kernels", top) == f"{top / 'kernels'} is not a folder"
    with pytest.raises(OSError):
        make_private(top / "kernels" / "abc", top)
