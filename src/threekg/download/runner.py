"""``download()``: list a PhysioNet project version, fetch its files in parallel, summarise."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import urllib.parse
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from threekg.download.datasets import Dataset, get_dataset
from threekg.download.fetch import Fetcher, FileResult
from threekg.download.http import NetworkError, fetch_text
from threekg.download.listing import build_listing
from threekg.download.paths import UnsafePathError
from threekg.download.state import DownloadState
from threekg.errors import UserError
from threekg.progress import progress_bar

log = logging.getLogger(__name__)
DEFAULT_BASE_URL = "https://physionet.org/files/"


class DownloadError(UserError, RuntimeError):
    """The download could not start (listing unreachable, bad options, foreign state); one line."""


@dataclass
class DownloadSummary:
    """What a run did. ``failed`` and ``rejected`` hold ``(remote path, reason)`` pairs."""

    dataset: str
    dest: Path
    source: str
    n_files: int = 0
    downloaded: int = 0
    skipped: int = 0
    bytes_downloaded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every listed file is in place and no remote name was rejected."""
        return not self.failed and not self.rejected

    def format(self, max_lines: int = 50) -> str:
        """A human summary: counts, bytes, then one line per failure and rejected name."""
        lines = [f"{self.dataset} -> {self.dest} (file list from {self.source}): {self.n_files} files; "
                 f"{self.downloaded} downloaded, {self.skipped} already complete, {len(self.failed)} failed, "
                 f"{len(self.rejected)} names rejected; {self.bytes_downloaded / 1e6:.1f} MB in {self.seconds:.1f} s"]
        for kind, items in (("FAILED", self.failed), ("REJECTED", self.rejected)):
            for path, reason in items[:max_lines]:
                lines.append(f"  {kind} {path}: {reason}")
            if len(items) > max_lines:
                lines.append(f"  ... and {len(items) - max_lines} more {kind.lower()}")
        return "\n".join(lines)


def _check_options(workers: int, retries: int, timeout: float, limit: int | None, backoff: float) -> None:
    if workers < 1:
        raise DownloadError(f"--workers must be >= 1, got {workers}")
    if retries < 0:
        raise DownloadError(f"--retries must be >= 0, got {retries}")
    if not 0 < timeout < math.inf:
        raise DownloadError(f"--timeout must be a finite number of seconds > 0, got {timeout}")
    if limit is not None and limit < 1:
        raise DownloadError(f"--limit must be >= 1, got {limit}")
    if not 0 <= backoff < math.inf:
        raise DownloadError(f"--backoff must be a finite number of seconds >= 0, got {backoff}")


def download(dataset: str | Dataset, dest: str | os.PathLike[str], *, base_url: str = DEFAULT_BASE_URL,
             subset: str | None = None, limit: int | None = None, workers: int = 4, retries: int = 3,
             timeout: float = 30.0, verify: bool = True, backoff: float = 1.0,
             progress: bool = True) -> DownloadSummary:
    """Download ``dataset`` (a name in ``DATASETS`` or a :class:`Dataset`) into ``dest``.

    Files keep their path relative to ``<base_url><project>/<version>/``. Resumable and idempotent:
    re-running skips complete files and continues ``.part`` files. Raises :class:`DownloadError`
    when nothing can be listed; per-file failures are in the returned summary (``summary.ok``).
    ``KeyboardInterrupt`` stops the workers, saves the state and propagates.
    """
    _check_options(workers, retries, timeout, limit, backoff)
    ds = get_dataset(dataset) if isinstance(dataset, str) else dataset
    dest_path = Path(dest)
    if not base_url.endswith("/"):
        base_url += "/"
    project_url = base_url + urllib.parse.quote(ds.slug) + "/"
    started = time.monotonic()
    try:
        dest_path.mkdir(parents=True, exist_ok=True)
        state = DownloadState.load(dest_path, ds.name, ds.slug)
    except (OSError, ValueError) as exc:
        raise DownloadError(f"{dest_path}: {exc}") from None

    def fetch_listing(rel: str) -> str:
        return fetch_text(project_url + urllib.parse.quote(rel), timeout, retries, backoff)

    try:
        listing = build_listing(ds, fetch_listing, subset=subset, limit=limit)
    except NetworkError as exc:
        raise DownloadError(f"cannot list {ds.name}: {exc}") from None
    except UnsafePathError as exc:
        raise DownloadError(f"--subset {exc}") from None
    summary = DownloadSummary(ds.name, dest_path, listing.source, n_files=len(listing.files),
                              rejected=list(listing.rejected), failed=list(listing.failed))
    for name, reason in listing.rejected:
        log.warning("rejected remote name %r: %s", name, reason)
    if listing.files == [] and not listing.rejected:
        log.warning("no files matched (subset=%r) in %s", subset, project_url)

    bar = progress_bar(0, ds.name, "B", unit_scale=True, unit_divisor=1024, disable=not progress)
    lock = threading.Lock()

    def on_total(n: int) -> None:
        with lock:
            bar.total = (bar.total or 0) + n
            bar.refresh()

    def on_bytes(n: int) -> None:
        with lock:
            bar.update(n)

    stop = threading.Event()
    fetcher = Fetcher(project_url, dest_path, state, timeout=timeout, retries=retries, backoff=backoff,
                      verify=verify, stop=stop, on_bytes=on_bytes, on_total=on_total)
    run_info = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "base_url": base_url, "subset": subset,
                "limit": limit, "verify": verify, "source": listing.source}
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="threekg-dl") as pool:
            pending: set[Future[FileResult]] = {pool.submit(fetcher.fetch, f) for f in listing.files}
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in done:
                        _record(summary, fut.result())
                    bar.set_postfix_str(f"{summary.downloaded + summary.skipped}/{summary.n_files} files",
                                        refresh=False)
            except BaseException:
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    except BaseException:
        state.save(run={**run_info, "outcome": "interrupted"})
        bar.close()
        raise
    bar.close()
    summary.seconds = time.monotonic() - started
    state.save(run={**run_info, "outcome": "complete" if summary.ok else "incomplete",
                    "downloaded": summary.downloaded, "skipped": summary.skipped,
                    "failed": len(summary.failed), "rejected": len(summary.rejected)})
    return summary


def _record(summary: DownloadSummary, res: FileResult) -> None:
    summary.bytes_downloaded += res.n_bytes
    if res.status == "downloaded":
        summary.downloaded += 1
    elif res.status == "skipped":
        summary.skipped += 1
    elif res.status == "rejected":
        summary.rejected.append((res.path, res.reason))
        log.warning("rejected %s: %s", res.path, res.reason)
    else:
        summary.failed.append((res.path, res.reason))
        log.warning("failed %s: %s", res.path, res.reason)
