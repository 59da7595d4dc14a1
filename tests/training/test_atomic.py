"""Durability of atomic writes: the temporary file's bytes reach the disk (fsync) before the
rename makes them the target, and the directory is synced after it, so a power cut leaves
the old file or the whole new one.

The system calls are recorded by wrapping the os functions atomic.py calls (the real ones
still run): every fsync or fdatasync with the file its descriptor names and that file's size
at that moment, and every rename. strace would see the same calls but is not installed by CI.
"""
import os

from minigan import atomic


def record_syscalls(monkeypatch):
    calls = []

    def synced(real, name):
        def call(fd):
            path = os.readlink(f"/proc/self/fd/{fd}")
            calls.append((name, path, os.fstat(fd).st_size))
            return real(fd)
        return call

    for name in ("fsync", "fdatasync"):
        monkeypatch.setattr(os, name, synced(getattr(os, name), name))
    for name in ("replace", "rename"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda src, dst, _real=real, _name=name: (
            calls.append((_name, os.path.abspath(src), os.path.abspath(dst))), _real(src, dst))[1])
    return calls


def test_the_temporary_file_is_synced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    target = tmp_path / "out" / "metrics.json"
    text = "x" * 5000
    calls = record_syscalls(monkeypatch)
    atomic.write_text(target, text)
    assert target.read_text() == text
    renames = [c for c in calls if c[0] in ("replace", "rename")]
    assert len(renames) == 1 and renames[0][2] == str(target), calls
    tmp = renames[0][1]
    rename_at = calls.index(renames[0])
    synced = [c for c in calls[:rename_at] if c[0] in ("fsync", "fdatasync") and c[1] == tmp]
    assert synced and synced[-1][2] == len(text), f"the temporary file's bytes unsynced before the rename: {calls}"
    assert any(c[0] == "fsync" and c[1] == str(target.parent) for c in calls[rename_at:]), \
        f"the directory is not synced after the rename: {calls}"
