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


# --- the output set as one transaction ------------------------------------------------------
def owned(folder) -> list[str]:
    """The names a folder shows a user: everything but craftpix's manifest."""
    return [n for n in listing(folder) if n != fileio.MANIFEST]


def publish(out, files: dict[str, bytes], keep=()) -> fileio.OutputSet:
    with fileio.OutputSet(out) as outputs:
        for name, data in files.items():
            write_bytes(outputs.staging / name, data)
        for name in keep:
            outputs.keep(name)
        outputs.publish()
    return outputs


def test_output_set_publishes_files_and_manifest(tmp_path):
    out = tmp_path / "a" / "b"
    outputs = publish(out, {"pattern.json": b"{}", "pattern.pdf": b"%PDF"})
    assert outputs.published == [out / "pattern.json", out / "pattern.pdf"]
    assert listing(out) == [fileio.MANIFEST, "pattern.json", "pattern.pdf"]
    assert sorted(fileio.read_manifest(out)) == ["pattern.json", "pattern.pdf"]
    assert fileio.read_manifest(out)["pattern.pdf"]["size"] == 4
    assert stat.S_IMODE((out / "pattern.pdf").stat().st_mode) == 0o666 & ~fileio._UMASK


def test_output_set_replaces_the_previous_set_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"1", "pattern.pdf": b"pdf1", "pattern.dst": b"dst1",
                  "preview.png": b"png1"})
    (out / "notes.txt").write_text("mine")  # a user's own file
    (out / "preview.png").write_bytes(b"edited")  # a craftpix file the user changed
    outputs = publish(out, {"pattern.json": b"2", "pattern.pes": b"pes2"})
    # the old PDF and .dst (not asked for this time) are gone: they described another design
    assert owned(out) == ["notes.txt", "pattern.json", "pattern.pes", "preview.png"]
    assert (out / "pattern.json").read_bytes() == b"2"
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "preview.png").read_bytes() == b"edited"
    assert len(outputs.notes) == 1 and "preview.png" in outputs.notes[0]
    assert sorted(fileio.read_manifest(out)) == ["pattern.json", "pattern.pes"]


def test_keep_carries_an_owned_file_into_the_new_set(tmp_path):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"p", "pattern.pdf": b"1"})
    publish(out, {"preview.png": b"2"}, keep=["pattern.json", "notes.txt"])
    assert owned(out) == ["pattern.json", "preview.png"]
    assert sorted(fileio.read_manifest(out)) == ["pattern.json", "preview.png"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_output_set_failure_keeps_the_previous_set(tmp_path, error):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"old", "pattern.pdf": b"old"})
    before = {n: (out / n).read_bytes() for n in listing(out)}
    with pytest.raises(type(error)) as info:
        with fileio.OutputSet(out) as outputs:
            write_bytes(outputs.staging / "pattern.json", b"new")
            raise error
    assert {n: (out / n).read_bytes() for n in listing(out)} == before
    if isinstance(error, KeyboardInterrupt):
        assert info.value.craftpix_note == f"{out} was left as it was"


def test_early_failure_leaves_no_output_folder(tmp_path):
    out = tmp_path / "new" / "deeper"
    with pytest.raises(RuntimeError):
        with fileio.OutputSet(out):
            raise RuntimeError
    assert listing(tmp_path) == []
    (tmp_path / "existing").mkdir()  # a folder that was there before stays
    with pytest.raises(RuntimeError):
        with fileio.OutputSet(tmp_path / "existing"):
            raise RuntimeError
    assert listing(tmp_path) == ["existing"] and listing(tmp_path / "existing") == []


def test_output_set_on_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        fileio.OutputSet(tmp_path / "f").__enter__()


def test_a_folder_in_the_way_is_one_line_and_changes_nothing(tmp_path):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"old"})
    (out / "pattern.pdf").mkdir()
    with pytest.raises(InputError, match=r"cannot write .*pattern\.pdf: a folder has that name"):
        publish(out, {"pattern.json": b"new", "pattern.pdf": b"new"})
    assert (out / "pattern.json").read_bytes() == b"old"
    assert listing(out) == [fileio.MANIFEST, "pattern.json", "pattern.pdf"]


def test_write_error_names_the_final_path(tmp_path, monkeypatch):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"old"})

    def full(self, data):
        raise OSError(28, "No space left on device", str(self))

    with pytest.raises(InputError) as info:
        with fileio.OutputSet(out) as outputs:
            monkeypatch.setattr(type(outputs.staging), "write_bytes", full)
            write_bytes(outputs.staging / "pattern.pdf", b"x")
    monkeypatch.undo()
    assert str(info.value) == f"cannot write output: No space left on device: {out}/pattern.pdf"
    assert owned(out) == ["pattern.json"] and (out / "pattern.json").read_bytes() == b"old"


def test_second_run_into_the_same_folder_fails_with_one_line(tmp_path):
    out = tmp_path / "out"
    with fileio.OutputSet(out):
        with pytest.raises(InputError, match="is in use by another craftpix run"):
            fileio.OutputSet(out).__enter__()
        with pytest.raises(InputError, match=r"waited 0\.1 s"):
            fileio.OutputSet(out, wait=0.1).__enter__()
    with fileio.OutputSet(out):  # free again
        pass


def test_second_run_waits_for_the_first(tmp_path):
    import threading

    out = tmp_path / "out"
    first = fileio.OutputSet(out).__enter__()
    write_bytes(first.staging / "pattern.json", b"first")
    threading.Timer(0.2, lambda: (first.publish(), first.__exit__(None, None, None))).start()
    publish_second = fileio.OutputSet(out, wait=30)
    with publish_second as outputs:  # blocks until the first has published
        assert (out / "pattern.json").read_bytes() == b"first"
        write_bytes(outputs.staging / "pattern.json", b"second")
        outputs.publish()
    assert (out / "pattern.json").read_bytes() == b"second"


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the process runs after it."""


@pytest.mark.parametrize("after", range(5))  # 5 renames in all
def test_a_publish_cut_short_is_completed_by_the_next_run(tmp_path, monkeypatch, after):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"old", "pattern.pdf": b"old", "pattern.dst": b"old"})
    real_replace, real_rename, calls = os.replace, os.rename, []

    def dying(real):
        def move(src, dst):
            if len(calls) >= after:
                raise Killed
            calls.append(dst)
            real(src, dst)
        return move

    outputs = fileio.OutputSet(out).__enter__()
    write_bytes(outputs.staging / "pattern.json", b"new")
    write_bytes(outputs.staging / "preview.png", b"new")
    monkeypatch.setattr(fileio.os, "replace", dying(real_replace))
    monkeypatch.setattr(fileio.os, "rename", dying(real_rename))
    with pytest.raises(Killed):
        outputs.publish()
    os.close(outputs._fd)  # the process is gone: so is its lock
    monkeypatch.undo()
    committed = os.path.isdir(out / fileio.JOURNAL) or (out / "preview.png").exists()
    with fileio.OutputSet(out):  # the next run finishes (or drops) what the killed one began
        pass
    contents = {n: (out / n).read_bytes() for n in owned(out)}
    if committed:
        assert contents == {"pattern.json": b"new", "preview.png": b"new"}
    else:
        assert contents == {"pattern.json": b"old", "pattern.pdf": b"old", "pattern.dst": b"old"}
    assert listing(out) == sorted([fileio.MANIFEST, *contents])


def test_leftovers_of_killed_runs_are_cleaned(tmp_path):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"p"})
    (out / ".craftpix-staging-x1y2").mkdir()
    (out / ".craftpix-staging-x1y2" / "pattern.pdf").write_bytes(b"half")
    (out / ".craftpix-tmp.abcd1234.pattern.pdf").write_bytes(b"half")
    (out / ".pattern.k3j_x9a2.pdf").write_bytes(b"half")  # earlier craftpix versions
    (out / ".pattern.notes").write_text("mine")  # look-alikes of a user's stay
    (out / ".preview.k3j_x9a2.txt.bak").write_text("mine")
    publish(out, {"pattern.json": b"q"})
    assert listing(out) == [".craftpix-manifest.json", ".pattern.notes",
                            ".preview.k3j_x9a2.txt.bak", "pattern.json"]


def test_a_forged_manifest_cannot_delete_files_outside(tmp_path):
    import hashlib
    import json

    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"v")
    info = {"size": 1, "sha256": hashlib.sha256(b"v").hexdigest()}
    (out / fileio.MANIFEST).write_text(json.dumps(
        {"format": "craftpix.outputs", "version": 1,
         "files": {"../victim.txt": info, str(victim): info, ".": info}}))
    publish(out, {"pattern.json": b"p"})
    assert victim.read_bytes() == b"v"
    (out / fileio.MANIFEST).write_text("{not json")  # a broken manifest owns nothing
    (out / "pattern.pdf").write_bytes(b"mine")
    publish(out, {"pattern.json": b"q"})
    assert owned(out) == ["pattern.json", "pattern.pdf"]


def test_signals_are_held_during_the_renames():
    import signal

    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with fileio.signals_held():
            signal.raise_signal(signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_atomic_path_in_a_missing_folder_names_the_target(tmp_path):
    target = tmp_path / "missing" / "s.png"
    with pytest.raises(FileNotFoundError) as info:
        write_bytes(target, b"x")
    assert info.value.filename == str(target)
    assert fileio.describe_os_error(info.value) == f"No such file or directory: {target}"


def test_write_text_refuses_a_lone_surrogate(tmp_path):
    with pytest.raises(InputError, match="not valid Unicode"):
        write_text(tmp_path / "p.json", "rose \ud800")
    assert listing(tmp_path) == []


def test_a_damaged_journal_is_one_line(tmp_path):
    out = tmp_path / "out"
    publish(out, {"pattern.json": b"p"})
    (out / fileio.JOURNAL).mkdir()
    (out / fileio.JOURNAL / fileio.MANIFEST).write_text("[1, 2")
    with pytest.raises(InputError, match="its journal is damaged"):
        fileio.OutputSet(out).__enter__()
    assert (out / "pattern.json").read_bytes() == b"p"
