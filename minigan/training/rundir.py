"""A run directory's housekeeping: its one owner (a lock file), the temp files a killed run
left behind, and metrics.jsonl kept in step with the checkpoint.
"""
import contextlib
import errno
import json
import os
import re
import socket
import sys
import tempfile

LOCK = ".lock"
# atomic.atomic_path's temp names: "." + target name + "." + mkstemp's 8 random characters + ".tmp" + suffix.
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.\w+)?$")


class RunDirectoryBusy(RuntimeError):
    """Another live trainer owns the run directory."""


@contextlib.contextmanager
def owned(directory):
    """Hold directory's lock file (PID and host) for the block; refuse it when another live
    process holds it, take it over with a warning when its PID is gone."""
    os.makedirs(directory, exist_ok=True)
    lock = os.path.join(directory, LOCK)
    mine = (os.getpid(), socket.gethostname())
    me = "%d %s\n" % mine
    if not _create(lock, me):
        owner = _read(lock)
        if not _stale(owner):
            pid, host = owner
            raise RunDirectoryBusy(
                f"{directory} is in use by another trainer (PID {pid} on {host}, see {lock}); "
                f"wait for it, give another --out, or delete {lock} if no trainer runs there")
        print(f"warning: taking over {lock}, left by PID {owner[0]}, which is gone", file=sys.stderr)
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)
        if not _create(lock, me):  # another trainer took it over first
            raise RunDirectoryBusy(f"{directory} was just taken by another trainer (see {lock})")
    try:
        yield
    finally:
        if _read(lock) == mine:
            os.remove(lock)


def _create(lock, content):
    """Make lock holding content, whole or not at all (link fails if it exists); False if it exists."""
    fd, tmp = tempfile.mkstemp(prefix=".lock.", suffix=".tmp", dir=os.path.dirname(lock))
    try:
        os.write(fd, content.encode())
        os.close(fd)
        os.link(tmp, lock)
        return True
    except (FileExistsError, FileNotFoundError):  # not found: the owner's cleanup took our temp file
        return False
    except OSError as error:  # a full disk: say which file
        error.filename = error.filename or lock
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def _read(lock):
    """(pid, host) from lock, or None where it is gone or unreadable."""
    try:
        with open(lock) as f:
            pid, host = f.read().split()
        return int(pid), host
    except (FileNotFoundError, ValueError):
        return None


def _stale(owner):
    """Whether owner's process is known to be gone: on this host, no such PID."""
    if owner is None:
        return True
    pid, host = owner
    if host != socket.gethostname():
        return False  # its PID cannot be checked from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_temp_files(directory):
    """Delete the temp files that a run killed mid-write left in directory and its samples/
    (call it holding the lock: no live writer of this run has one open)."""
    for folder in (directory, os.path.join(directory, "samples")):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for name in os.listdir(folder):
                if TEMP_NAME.match(name):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(folder, name))


def read_metrics(path, step):
    """metrics.jsonl's records up to step. A last line torn by a crash is dropped with a warning;
    a torn line before the end is corruption, refused naming the file and line."""
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            record = json.loads(line)
            step_of_record = int(record["step"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            if number == len(lines):  # no newline after it: a write cut short
                print(f"warning: dropping the torn last line of {path} (a write cut short)",
                      file=sys.stderr)
                break
            raise ValueError(f"{path} line {number} is not a metrics record; "
                             f"move the file away to start its metrics afresh")
        if step_of_record <= step:
            records.append(record)
    return records


def append_lines(path, lines):
    """Append lines to path whole or not at all: what a failed write (a full disk) left is cut off."""
    data = "".join(lines).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as error:
            os.ftruncate(fd, size)
            error.filename = error.filename or path
            raise
    finally:
        os.close(fd)


def is_disk_full(error):
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
