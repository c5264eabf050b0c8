"""Fetch one file: skip when already complete, resume a ``.part`` with a Range request, verify the
SHA-256, then rename into place atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from threekg.download.http import NETWORK_EXCEPTIONS, NetworkError, describe, head_size, request
from threekg.download.listing import RemoteFile
from threekg.download.paths import PART_SUFFIX, UnsafePathError, safe_target
from threekg.download.state import DownloadState

log = logging.getLogger(__name__)
CHUNK = 1 << 16
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class Cancelled(Exception):
    """The run was interrupted (Ctrl-C); the ``.part`` file is kept for the next run."""


class LocalWriteError(OSError):
    """Writing into the destination failed (disk full, permissions); not worth retrying."""


@dataclass
class FileResult:
    """Outcome for one remote file: ``status`` is downloaded, skipped, failed or rejected."""

    path: str
    status: str
    n_bytes: int = 0
    reason: str = ""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _open_part(part: Path, append: bool) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(part, flags, 0o644), "ab" if append else "wb")


class Fetcher:
    """Downloads files of one project version (``project_url`` ends with ``/``) into ``dest``.

    ``on_bytes(n)`` is called for every chunk written, ``on_total(n)`` when ``n`` more bytes are
    expected. ``stop`` set from another thread makes transfers stop at the next chunk.
    """

    def __init__(self, project_url: str, dest: Path, state: DownloadState, *, timeout: float,
                 retries: int, backoff: float, verify: bool, stop: threading.Event,
                 on_bytes: Callable[[int], None] = lambda n: None,
                 on_total: Callable[[int], None] = lambda n: None) -> None:
        self.project_url = project_url
        self.dest = dest
        self.state = state
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.verify = verify
        self.stop = stop
        self.on_bytes = on_bytes
        self.on_total = on_total

    def url(self, rel: str) -> str:
        """The URL of a file relative to the project version root."""
        return self.project_url + urllib.parse.quote(rel)

    def fetch(self, rf: RemoteFile) -> FileResult:
        """Skip, download or fail ``rf``; never raises for expected failures (only :class:`Cancelled`)."""
        try:
            target = safe_target(self.dest, rf.path)
        except UnsafePathError as exc:
            return FileResult(rf.path, "rejected", reason=exc.reason)
        sha = rf.sha256 if self.verify else None
        url = self.url(rf.path)
        try:
            if target.exists() and self._already_complete(rf, target, sha, url):
                return FileResult(rf.path, "skipped")
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + PART_SUFFIX)
            if part.is_symlink():
                part.unlink()
            return self._download(rf, url, target, part, sha)
        except NetworkError as exc:
            return FileResult(rf.path, "failed", reason=str(exc))
        except LocalWriteError as exc:
            return FileResult(rf.path, "failed", reason=str(exc.strerror))
        except OSError as exc:
            return FileResult(rf.path, "failed", reason=f"cannot write {target}: {exc.strerror or exc}")

    def _already_complete(self, rf: RemoteFile, target: Path, sha: str | None, url: str) -> bool:
        if not target.is_file():
            return False
        if self.state.entry_matches(rf.path, target, sha):
            return True
        if sha is not None:
            ok = sha256_file(target) == sha
        else:
            try:
                size = head_size(url, self.timeout, self.retries, self.backoff)
            except NetworkError as exc:
                if exc.status not in (405, 501):  # HEAD not supported: fetch the file again
                    raise
                size = None
            ok = size is not None and size == target.stat().st_size
        if ok:
            self.state.mark_complete(rf.path, target, sha)
        return ok

    def _download(self, rf: RemoteFile, url: str, target: Path, part: Path, sha: str | None) -> FileResult:
        n_bytes = 0
        attempt = 0
        while True:
            try:
                n_bytes += self._transfer(url, part)
                reason = ""
                if sha is not None and (actual := sha256_file(part)) != sha:
                    reason = f"checksum mismatch: expected sha256 {sha}, got {actual}"
                    part.unlink()
            except NETWORK_EXCEPTIONS as exc:
                if isinstance(exc, LocalWriteError):
                    raise
                err = describe(url, exc, self.timeout)
                if not err.retryable:
                    raise err from None
                reason = str(err)
            if not reason:
                os.replace(part, target)
                self.state.mark_complete(rf.path, target, sha)
                return FileResult(rf.path, "downloaded", n_bytes=n_bytes)
            if attempt >= self.retries:
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                if reason.startswith("checksum"):
                    reason = f"{url}: {reason}"
                return FileResult(rf.path, "failed", n_bytes=n_bytes, reason=reason + tries)
            log.info("retrying %s: %s", rf.path, reason)
            time.sleep(min(60.0, self.backoff * 2**attempt))
            attempt += 1

    def _transfer(self, url: str, part: Path) -> int:
        """One GET into ``part``, continuing it with ``Range`` when it exists. Returns bytes received;
        raises on network failure or a short body (the ``.part`` keeps what arrived)."""
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            resp = request(url, self.timeout, headers=headers)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not offset:
                raise
            log.info("%s: range %d- not satisfiable; restarting the file", url, offset)
            part.unlink()
            return self._transfer(url, part)
        received = 0
        with resp:
            length = resp.headers.get("Content-Length")
            body_len = int(length) if length is not None and length.strip().isdigit() else None
            append = False
            if resp.status == 206 and offset:
                m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "").strip())
                if m is None or int(m.group(1)) != offset:
                    part.unlink()
                    raise NetworkError(url, f"server answered range {offset}- with "
                                            f"{resp.headers.get('Content-Range')!r}; restarting", retryable=True)
                append = True
            elif offset:
                log.info("%s: server ignored the Range request (HTTP %s); restarting the file", url, resp.status)
            start = offset if append else 0
            expected = start + body_len if body_len is not None else None
            if body_len is not None:
                self.on_total(body_len)
            try:
                f = _open_part(part, append)
            except OSError as exc:
                raise LocalWriteError(exc.errno, f"cannot write {part}: {exc.strerror}") from None
            with f:
                while True:
                    if self.stop.is_set():
                        raise Cancelled(url)
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    try:
                        f.write(chunk)
                    except OSError as exc:
                        raise LocalWriteError(exc.errno, f"cannot write {part}: {exc.strerror}") from None
                    received += len(chunk)
                    self.on_bytes(len(chunk))
                f.flush()
                os.fsync(f.fileno())
        size = part.stat().st_size
        if expected is not None and size != expected:
            raise NetworkError(url, f"connection closed after {size} of {expected} bytes", retryable=True)
        return received
