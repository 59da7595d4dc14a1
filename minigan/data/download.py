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

_CHUNK = 1 << 20
_TIMEOUT_S = 60
_PROGRESS_EVERY_S = 0.2


def download(url, dest_path, md5, progress=True):
    """Fetch `url` into `dest_path` if its MD5 is `md5`; nothing is left behind on failure.

    The body goes to a temporary name in the destination folder and is renamed
    only once complete and verified, so a crash never leaves a half file under
    the final name (which a later run would trust).
    """
    dest_path = Path(dest_path)
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    fd, part_path = tempfile.mkstemp(prefix=dest_path.name + ".part-", dir=dest_path.parent)
    try:
        with os.fdopen(fd, "wb") as part:
            got_md5 = _stream(url, part, progress)
            part.flush()
            os.fsync(part.fileno())
        if got_md5 != md5:
            raise DatasetError(f"downloading {url} failed: MD5 mismatch, expected {md5}, got {got_md5}")
        os.replace(part_path, dest_path)
    except BaseException:  # Ctrl-C included: never leave the partial file
        Path(part_path).unlink(missing_ok=True)
        raise
    return dest_path


def _stream(url, out, progress):
    """Copy the body of `url` to `out`; return its MD5 hex digest."""
    digest = hashlib.md5(usedforsecurity=False)
    got = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            bar = _ProgressBar(url, total) if progress else None
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
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
            line = f"[{'#' * filled}{'.' * (30 - filled)}] {_size(got)} / {_size(self.total)} {100 * fraction:5.1f}%"
        else:
            line = f"{_size(got)} (total size unknown)"
        sys.stderr.write("\r" + line + " " * 4)  # spaces wipe the tail of a longer previous line
        sys.stderr.flush()


def _size(n):
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def safe_extract(tar_path, dest_dir):
    """Extract a tar.gz into `dest_dir`, refusing members that would land outside it."""
    dest = Path(dest_dir).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                if not (dest / member.name).resolve().is_relative_to(dest):
                    raise DatasetError(f"refusing to extract {tar_path}: member {member.name!r} "
                                       f"would be written outside {dest}")
            # filter='data' also refuses absolute links, device files and setuid bits.
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise DatasetError(f"refusing to extract {tar_path}: {exc}") from exc
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"could not extract {tar_path}: the archive is corrupt or truncated "
                           f"({exc}); delete it and download it again") from exc
    return dest
