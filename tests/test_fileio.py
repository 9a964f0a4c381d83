"""Atomic output files and the output folder check."""

from __future__ import annotations

import os
import stat

import pytest

from craftpix import fileio
from craftpix.errors import InputError
from craftpix.fileio import atomic_path, ensure_out_dir, write_bytes, write_text


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_atomic_path_success(tmp_path):
    target = tmp_path / "out.png"
    with atomic_path(target) as tmp:
        assert tmp != target
        assert tmp.parent == tmp_path  # beside the target: the rename stays on one filesystem
        assert tmp.name.endswith(".png")  # libraries pick the format from the suffix
        assert not target.exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert listing(tmp_path) == ["out.png"]


def test_atomic_path_keeps_old_content_on_exception(tmp_path):
    target = tmp_path / "pattern.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert listing(tmp_path) == ["pattern.json"]


def test_atomic_path_no_file_on_exception(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "new.pdf") as tmp:
            tmp.write_bytes(b"%PDF-")
            raise ValueError
    assert listing(tmp_path) == []


def test_atomic_path_on_keyboard_interrupt(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert listing(tmp_path) == ["a.txt"]


def test_atomic_path_when_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def fail(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(fileio.os, "replace", fail)
    with pytest.raises(OSError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert listing(tmp_path) == ["a.txt"]


def test_atomic_path_library_deleted_temp(tmp_path):
    # A library that removes the file it was given: the error surfaces, nothing is left.
    with pytest.raises(OSError):
        with atomic_path(tmp_path / "x.dst") as tmp:
            tmp.unlink()
    assert listing(tmp_path) == []


def test_outputs_get_normal_permissions(tmp_path):
    # mkstemp creates 0600 files; a finished output must be readable like any new file.
    plain = tmp_path / "plain"
    plain.write_text("x")
    expected = stat.S_IMODE(plain.stat().st_mode)
    out = write_text(tmp_path / "pattern.json", "{}")
    assert stat.S_IMODE(out.stat().st_mode) == expected == 0o666 & ~fileio._UMASK


def test_write_bytes_and_text(tmp_path):
    p = write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert p == tmp_path / "b.bin" and p.read_bytes() == b"\x00\x01"
    t = write_text(str(tmp_path / "t.txt"), "héllo ✓")
    assert t.read_bytes() == "héllo ✓".encode()
    write_text(t, "again")
    assert t.read_text() == "again"
    assert listing(tmp_path) == ["b.bin", "t.txt"]


def test_file_without_suffix(tmp_path):
    write_text(tmp_path / "README", "x")
    assert listing(tmp_path) == ["README"]


# --- ensure_out_dir ----------------------------------------------------------------------
def test_ensure_out_dir_creates_nested(tmp_path):
    out = ensure_out_dir(tmp_path / "a" / "b")
    assert out.is_dir() and out == tmp_path / "a" / "b"
    assert ensure_out_dir(str(out)) == out  # existing folder is fine


def test_ensure_out_dir_on_a_file(tmp_path):
    f = tmp_path / "out.json"
    f.write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        ensure_out_dir(f)
    with pytest.raises(InputError, match="cannot create output folder"):
        ensure_out_dir(f / "sub")
    assert f.read_text() == "x"


def _read_only_dir(path):
    path.mkdir()
    path.chmod(0o500)
    if os.access(path, os.W_OK):  # root (or a capability) ignores permission bits
        path.chmod(0o700)
        pytest.skip("running with privileges that ignore folder permissions")
    return path


def test_ensure_out_dir_unwritable_folder(tmp_path):
    ro = _read_only_dir(tmp_path / "ro")
    try:
        with pytest.raises(InputError, match="not writable"):
            ensure_out_dir(ro)
        with pytest.raises(InputError, match="cannot create output folder"):
            ensure_out_dir(ro / "new")
    finally:
        ro.chmod(0o700)


def test_atomic_path_in_unwritable_folder_raises_and_leaves_nothing(tmp_path):
    ro = _read_only_dir(tmp_path / "ro")
    try:
        with pytest.raises(OSError):
            with atomic_path(ro / "x.txt") as tmp:
                tmp.write_text("x")
        assert listing(ro) == []
    finally:
        ro.chmod(0o700)


def test_ensure_out_dir_reports_missing_write_permission(tmp_path, monkeypatch):
    # The same check without depending on who runs the tests.
    monkeypatch.setattr(fileio.os, "access", lambda path, mode: False)
    with pytest.raises(InputError, match="output folder .* is not writable"):
        ensure_out_dir(tmp_path)
