"""Limits on untrusted data files: only regular files are read, and nothing grows past a set size.

The real data sets sit far below every limit: CIFAR-10's largest file is 31 MB
and its archives extract to about 180 MB; Fashion-MNIST's largest file is
47 MB once decompressed. A file over a limit is not one of them. Saved weights are
bounded more loosely (a DCGAN's are a few MB); pass max_bytes for a larger model.
"""

import gzip
import os
import stat
import zipfile
import zlib

from .errors import DatasetError, NotAZipArchive

MAX_FILE_BYTES = 512 << 20  # one data file, or one member of an archive
MAX_EXTRACT_BYTES = 1 << 30  # all the members of one archive together
MAX_MEMBERS = 10_000  # members of one archive (CIFAR-10's have 9 or 10)
MAX_GZIP_BYTES = 256 << 20  # one .gz data file, decompressed
MAX_IMAGE_PIXELS = 1 << 26  # one image file (67 megapixels), checked before decoding it
MAX_STATE_BYTES = 4 << 30  # one saved state (minigan.save or torch.save file), its members together

# How zipfile meets a damaged archive: a bad CRC or header, a short read, a bad deflate stream,
# an unknown version or method, a name that is not UTF-8.
ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError, ValueError)

_CHUNK = 1 << 20
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def open_regular(path, max_bytes=None):
    """Open `path` for binary reading if it is a regular file of at most `max_bytes`.

    `max_bytes` defaults to MAX_FILE_BYTES as it is when called. A missing file
    raises FileNotFoundError, so that callers can say what is missing; anything
    else unreadable raises DatasetError.
    """
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        info = os.stat(path)  # before opening: opening a FIFO blocks until someone writes to it
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
            raise DatasetError(f"{path} is {kind}, not a regular file; replace it with the real data file")
        if info.st_size > max_bytes:
            raise DatasetError(f"{path} is {format_size(info.st_size)}, over the {format_size(max_bytes)} limit "
                               f"for one data file; replace it with the real file")
        return open(path, "rb")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from exc


def read_gzip(path, max_bytes=None):
    """Return the decompressed bytes of the .gz file `path`, refusing more than `max_bytes`.

    `max_bytes` defaults to MAX_GZIP_BYTES as it is when called. Decompresses
    in chunks and stops at the limit, so a small bomb never fills memory.
    """
    max_bytes = MAX_GZIP_BYTES if max_bytes is None else max_bytes
    data = bytearray()
    try:
        with open_regular(path) as raw, gzip.GzipFile(fileobj=raw) as gz:
            while chunk := gz.read(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise DatasetError(f"{path} decompresses to more than {format_size(max_bytes)}, the limit "
                                       f"for one .gz data file; replace it with the real file")
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} is not a readable .gz file ({exc})") from exc
    return data


def open_zip(path, max_bytes=None):
    """A zipfile.ZipFile of `path` once its members are at most MAX_MEMBERS and declare at most
    `max_bytes` (default MAX_STATE_BYTES as it is when called) unpacked, all together.

    zipfile never unpacks a member past its declared size, so the declared sizes bound memory.
    Raises FileNotFoundError for a missing file, DatasetError for anything else wrong.
    """
    max_bytes = MAX_STATE_BYTES if max_bytes is None else max_bytes
    open_regular(path, max_bytes).close()  # refuses a FIFO or device before zipfile opens it
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise NotAZipArchive(f"{path} is not a readable zip archive; it is truncated or corrupt ({exc})") from None
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS or unpacked > max_bytes:
        archive.close()
        raise DatasetError(f"{path} holds {len(members)} members declaring {format_size(unpacked)} in all, over "
                           f"the limits ({MAX_MEMBERS} members, {format_size(max_bytes)}); pass a larger "
                           f"max_bytes if it is a real file")
    return archive


def format_size(n):
    """`n` bytes in B, KiB, MiB or GiB, for messages."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
