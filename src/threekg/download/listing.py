"""What to download: the file list of a PhysioNet project version, from ``SHA256SUMS.txt`` when the
server has one, else by walking its ``RECORDS`` files. Every remote name is validated here."""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from threekg.download.datasets import Dataset
from threekg.download.http import NetworkError
from threekg.download.paths import UnsafePathError, validate_relpath

log = logging.getLogger(__name__)
_SHA_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
MAX_RECORDS_FILES = 100_000  # a bound on the RECORDS walk, against a server that lists folders forever


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: ``path`` relative to the project version root (POSIX), its SHA-256 if known."""

    path: str
    sha256: str | None = None


@dataclass
class Listing:
    """The files to fetch, the names rejected (``(name, reason)``) and where the list came from."""

    files: list[RemoteFile] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""


def normalise_subset(subset: str | None) -> str | None:
    """``--subset`` as a validated relative folder or file path without trailing ``/``."""
    if subset is None or subset.strip("/") == "":
        return None
    return validate_relpath(subset.strip("/"))


def _within(path: str, prefix: str | None) -> bool:
    return prefix is None or path == prefix or path.startswith(prefix + "/")


def _overlaps(folder: str, prefix: str | None) -> bool:
    """Whether a folder may contain files under ``prefix`` (or lies under it)."""
    return prefix is None or _within(folder, prefix) or _within(prefix, folder)


def parse_sha256sums(text: str, listing: Listing) -> list[RemoteFile]:
    """Parse ``sha256sum`` output (``<64 hex>  <path>``, or ``*<path>`` for binary mode)."""
    out: list[RemoteFile] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        m = _SHA_LINE.match(line)
        if m is None:
            listing.rejected.append((line[:120], f"SHA256SUMS.txt line {lineno}: not '<sha256>  <path>'"))
            continue
        name = m.group(2)
        try:
            validate_relpath(name)
        except UnsafePathError as exc:
            listing.rejected.append((name, f"SHA256SUMS.txt line {lineno}: {exc.reason}"))
            continue
        out.append(RemoteFile(name, m.group(1).lower()))
    return out


def walk_records(dataset: Dataset, fetch: Callable[[str], str], prefix: str | None,
                 limit: int | None, listing: Listing) -> list[RemoteFile]:
    """Walk ``RECORDS`` files from the project root: a line ending in ``/`` is a sub-folder with its
    own ``RECORDS``; any other line is a record name, giving one file per ``record_extensions``.
    Each ``RECORDS`` file walked is itself listed, as are ``dataset.extra_files``.
    ``fetch(rel_path)`` returns the text of a remote file. Stops after ``limit`` records."""
    files: list[RemoteFile] = [RemoteFile(f) for f in dataset.extra_files if _within(f, prefix)]
    n_records = 0
    queue = [""]
    n_walked = 0
    while queue and (limit is None or n_records < limit):
        folder = queue.pop(0)
        n_walked += 1
        if n_walked > MAX_RECORDS_FILES:
            listing.rejected.append((folder, f"more than {MAX_RECORDS_FILES} RECORDS files; walk stopped"))
            break
        records_path = posixpath.join(folder, "RECORDS") if folder else "RECORDS"
        try:
            text = fetch(records_path)
        except NetworkError as exc:
            if not folder:
                raise
            listing.failed.append((records_path, str(exc)))
            continue
        if _within(records_path, prefix):
            files.append(RemoteFile(records_path))
        for raw in text.splitlines():
            entry = raw.strip()
            if not entry or entry.startswith("#"):
                continue
            is_dir = entry.endswith("/")
            name = posixpath.join(folder, entry.rstrip("/")) if folder else entry.rstrip("/")
            try:
                validate_relpath(entry.rstrip("/"))
                validate_relpath(name)
            except UnsafePathError as exc:
                listing.rejected.append((entry, f"{records_path}: {exc.reason}"))
                continue
            if is_dir:
                if _overlaps(name, prefix):
                    queue.append(name)
                continue
            if not _within(name, prefix):
                continue
            files.extend(RemoteFile(name + ext) for ext in dataset.record_extensions)
            n_records += 1
            if limit is not None and n_records >= limit:
                break
    return files


def _record_key(path: str, dataset: Dataset) -> str | None:
    stem, ext = posixpath.splitext(path)
    return stem if ext in dataset.record_extensions else None


def apply_limit(files: list[RemoteFile], dataset: Dataset, limit: int | None) -> list[RemoteFile]:
    """Keep every non-record file and the files of the first ``limit`` records in path order."""
    if limit is None:
        return files
    keys = sorted({k for f in files if (k := _record_key(f.path, dataset)) is not None})
    keep = set(keys[:limit])
    return [f for f in files if (k := _record_key(f.path, dataset)) is None or k in keep]


def build_listing(dataset: Dataset, fetch: Callable[[str], str], subset: str | None = None,
                  limit: int | None = None) -> Listing:
    """The files of ``dataset`` under ``dataset.root`` and ``subset`` (at most ``limit`` records).

    Uses ``SHA256SUMS.txt`` when ``fetch`` finds it (checksums known), else the ``RECORDS`` walk
    (no checksums). ``fetch`` raises :class:`NetworkError`; a 404 on ``SHA256SUMS.txt`` selects
    the walk, any other error propagates.
    """
    listing = Listing()
    prefix = normalise_subset(subset)
    root = dataset.root or None
    if prefix is not None and root is not None and not _within(prefix, root):
        prefix = f"{root}/{prefix}"  # `--subset georgia` means training/georgia for the challenges
    scope = prefix or root
    try:
        text = fetch("SHA256SUMS.txt")
    except NetworkError as exc:
        if exc.status != 404:
            raise
        log.info("no SHA256SUMS.txt (%s); walking RECORDS files, sizes but no checksums verified", exc)
        listing.source = "RECORDS"
        files = walk_records(dataset, fetch, scope, limit, listing)
    else:
        listing.source = "SHA256SUMS.txt"
        files = [f for f in parse_sha256sums(text, listing) if _within(f.path, scope)]
    unique = list({f.path: f for f in files}.values())
    listing.files = sorted(apply_limit(unique, dataset, limit), key=lambda f: f.path)
    return listing
