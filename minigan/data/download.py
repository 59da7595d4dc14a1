"""Download a file atomically with an MD5 check, and extract tarballs safely."""

import gzip
import hashlib
import http.client
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from .errors import DatasetError
from .limits import MAX_EXTRACT_BYTES, MAX_FILE_BYTES, MAX_MEMBERS, format_size, open_regular

_CHUNK = 1 << 20
_TIMEOUT_S = 60
_PROGRESS_EVERY_S = 0.2


def download(url, dest_path, md5, progress=True, max_bytes=MAX_FILE_BYTES):
    """Fetch `url` into `dest_path` if its MD5 is `md5`; nothing is left behind on failure.

    The body goes to a temporary name in the destination folder and is renamed
    only once complete and verified, so a crash never leaves a half file under
    the final name (which a later run would trust). A body over `max_bytes` is
    refused as soon as it is declared or received, so a server cannot fill the disk.
    """
    dest_path = Path(dest_path)
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    fd, part_path = tempfile.mkstemp(prefix=dest_path.name + ".part-", dir=dest_path.parent)
    try:
        with os.fdopen(fd, "wb") as part:
            got_md5 = _stream(url, part, progress, max_bytes)
            part.flush()
            os.fsync(part.fileno())
        if got_md5 != md5:
            raise DatasetError(f"downloading {url} failed: MD5 mismatch, expected {md5}, got {got_md5}")
        os.replace(part_path, dest_path)
    except BaseException:  # Ctrl-C included: never leave the partial file
        Path(part_path).unlink(missing_ok=True)
        raise
    return dest_path


def _stream(url, out, progress, max_bytes):
    """Copy the body of `url` to `out`, up to `max_bytes`; return its MD5 hex digest."""
    digest = hashlib.md5(usedforsecurity=False)
    got = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            if (total or 0) > max_bytes:
                raise DatasetError(f"downloading {url} refused: it is {format_size(total)}, over the "
                                   f"{format_size(max_bytes)} limit for one data file")
            bar = _ProgressBar(url, total) if progress else None
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
                    if got > max_bytes:
                        raise DatasetError(f"downloading {url} stopped: it sent more than the "
                                           f"{format_size(max_bytes)} limit for one data file")
                    if bar:
                        bar.update(got)
            finally:
                if bar:
                    bar.close(got)
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DatasetError(f"downloading {url} failed: {exc.reason}") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise DatasetError(f"downloading {url} failed after {got} bytes: {exc!r}") from exc
    # http.client returns a short body without complaint when the server closes early.
    if total is not None and got != total:
        raise DatasetError(f"downloading {url} failed: truncated body, expected {total} bytes, got {got}")
    return digest.hexdigest()


class _ProgressBar:
    """A one-line text progress bar on stderr; falls back to a byte count without a total."""

    def __init__(self, url, total):
        self.total = total
        self.last_draw = 0.0
        sys.stderr.write(f"downloading {url}\n")

    def update(self, got):
        now = time.monotonic()
        if now - self.last_draw >= _PROGRESS_EVERY_S:
            self.last_draw = now
            self._draw(got)

    def close(self, got):
        self._draw(got)
        sys.stderr.write("\n")
        sys.stderr.flush()

    def _draw(self, got):
        if self.total:
            fraction = min(got / self.total, 1.0)
            filled = int(30 * fraction)
            line = (f"[{'#' * filled}{'.' * (30 - filled)}] {format_size(got)} / {format_size(self.total)} "
                    f"{100 * fraction:5.1f}%")
        else:
            line = f"{format_size(got)} (total size unknown)"
        sys.stderr.write("\r" + line + " " * 4)  # spaces wipe the tail of a longer previous line
        sys.stderr.flush()


def safe_extract(tar_path, dest_dir, *, max_file_bytes=MAX_FILE_BYTES, max_total_bytes=MAX_EXTRACT_BYTES,
                 max_members=MAX_MEMBERS):
    """Extract a tar.gz into `dest_dir`, refusing members that would land outside it or exceed the limits.

    Every header is checked before anything is written, each as soon as it is
    read, so a member declaring 10 GiB of zeros is refused without
    decompressing it.
    """
    dest = Path(dest_dir).resolve()
    try:
        with open_regular(tar_path) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
            members = _checked_members(tar, tar_path, dest, max_file_bytes, max_total_bytes, max_members)
            dest.mkdir(parents=True, exist_ok=True)
            # filter='data' also refuses absolute links, device files and setuid bits.
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise DatasetError(f"refusing to extract {tar_path}: {exc}") from exc
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"could not extract {tar_path}: the archive is corrupt or truncated "
                           f"({exc}); delete it and download it again") from exc
    except OSError as exc:  # a missing archive, a full disk, a read-only destination
        raise DatasetError(f"could not extract {tar_path} into {dest}: {exc.strerror} ({exc.filename})") from exc
    return dest


def _checked_members(tar, tar_path, dest, max_file_bytes, max_total_bytes, max_members):
    """Read the headers of `tar`, refusing each bad one as soon as it is read, before its data is skipped."""
    members, total = [], 0
    for member in tar:
        if not (dest / member.name).resolve().is_relative_to(dest):
            raise DatasetError(f"refusing to extract {tar_path}: member {member.name!r} "
                               f"would be written outside {dest}")
        total += member.size
        if len(members) == max_members:
            fault = f"it has more than {max_members} members"
        elif member.size > max_file_bytes:
            fault = (f"member {member.name!r} is {format_size(member.size)}, over the "
                     f"{format_size(max_file_bytes)} limit for one file")
        elif total > max_total_bytes:
            fault = f"its members add up to more than the {format_size(max_total_bytes)} limit"
        else:
            members.append(member)
            continue
        raise DatasetError(f"refusing to extract {tar_path}: {fault}; it is not a data set archive, "
                           f"delete it and download it again")
    return members
