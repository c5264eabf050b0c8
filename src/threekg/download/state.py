"""The ``.threekg-download.json`` state file: which files are complete, with their size and hash.

Written atomically (temporary file + rename). It is an accelerator, not the source of truth: a file
whose size or modification time differs from its entry is checked again (hash or size)."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from threekg.download.paths import STATE_FILE

log = logging.getLogger(__name__)
STATE_VERSION = 1


class DownloadState:
    """Thread-safe record of completed files in ``dest``; ``save()`` writes it atomically."""

    def __init__(self, dest: Path, dataset: str, slug: str) -> None:
        self.path = dest / STATE_FILE
        self.dataset = dataset
        self.slug = slug
        self.files: dict[str, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._dirty = 0

    @classmethod
    def load(cls, dest: Path, dataset: str, slug: str) -> DownloadState:
        """Read the state in ``dest`` (a fresh one when absent or unreadable). Raises ``ValueError``
        when ``dest`` holds a download of another data set."""
        state = cls(dest, dataset, slug)
        if not state.path.exists():
            return state
        try:
            data = json.loads(state.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
                raise ValueError("not a state object")
        except (OSError, ValueError) as exc:
            log.warning("%s is unreadable (%s); existing files will be re-checked", state.path, exc)
            return state
        if data.get("dataset") not in (None, dataset) or data.get("slug") not in (None, slug):
            raise ValueError(f"{dest} already holds a download of {data.get('dataset')} "
                             f"({data.get('slug')}); use another --dest")
        state.files = {str(k): v for k, v in data["files"].items() if isinstance(v, dict)}
        state.runs = list(data.get("runs", []))[-20:]
        return state

    def entry_matches(self, rel: str, target: Path, sha256: str | None) -> bool:
        """Whether ``target`` is unchanged since it was recorded complete (size, mtime, hash)."""
        with self._lock:
            entry = self.files.get(rel)
        if entry is None:
            return False
        try:
            st = target.stat()
        except OSError:
            return False
        if st.st_size != entry.get("size") or st.st_mtime_ns != entry.get("mtime_ns"):
            return False
        return sha256 is None or entry.get("sha256") == sha256

    def mark_complete(self, rel: str, target: Path, sha256: str | None) -> None:
        """Record ``rel`` as complete; saves every 500 files so a kill loses little."""
        st = target.stat()
        with self._lock:
            self.files[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
            self._dirty += 1
            due = self._dirty >= 500
        if due:
            self.save()

    def save(self, run: dict[str, Any] | None = None) -> None:
        """Write the state atomically; ``run`` (options and outcome) is appended to the history."""
        with self._lock:
            if run is not None:
                self.runs = [*self.runs, run][-20:]
            data = {"version": STATE_VERSION, "dataset": self.dataset, "slug": self.slug,
                    "files": dict(sorted(self.files.items())), "runs": self.runs}
            self._dirty = 0
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
