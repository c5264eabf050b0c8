"""Steps of a study and their fingerprints.

A step is done when its output is complete (the step API's own completion marker: a prepared
dataset's ``manifest.json``, a run's ``DONE``, ``metrics.json``, the report) AND the fingerprint of
its inputs and options, recorded in ``OUT/.threekg/steps/<step>.json`` when it finished, equals the
current one. A changed option or upstream result changes the fingerprint, so that step and everything
downstream of it runs again; nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threekg.evaluate.diagnose import DIAGNOSTICS_REVISION
from threekg.evaluate.probe import PROBE_REVISION
from threekg.hashing import file_sha256

RESULT_REVISIONS: dict[str, int] = {
    # the probe's revision and 10 x the diagnostics' (threekg.evaluate.diagnose.DIAGNOSTICS_REVISION)
    "evaluate": PROBE_REVISION + 10 * DIAGNOSTICS_REVISION,
    # 2: the 3kg family's default strengths became 15 deg / 1.2 (THREEKG_STRENGTH): a run of `3kg`
    # made before computed something else under the same options
    "pretrain": 2,
}
"""Per step kind, the revision of the code's results: raised when a change of threekg changes what a
step computes from the same options (so studies made before it are recomputed, not reused). Kinds at
revision 1 add nothing to their fingerprint, which keeps older studies' fingerprints valid."""


def fingerprint(payload: Any) -> str:
    """A stable SHA-256 of JSON-serialisable data (keys sorted; paths as strings)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of one file's bytes (the one implementation lives in :mod:`threekg.hashing`)."""
    return file_sha256(path)


def tree_signature(root: Path) -> dict[str, int]:
    """Cheap identity of a raw source folder: number of files and total bytes (no file is read)."""
    n_files = 0
    n_bytes = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                n_bytes += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            n_files += 1
    return {"files": n_files, "bytes": n_bytes}


@dataclass
class Step:
    """One unit of work: ``run()`` produces ``output``; ``is_complete(output)`` checks its marker."""

    name: str
    kind: str  # synth | prepare | pretrain | evaluate | report
    output: Path
    options: dict[str, Any]
    run: Callable[[bool], None]  # argument: resume (the same fingerprint left unfinished work)
    is_complete: Callable[[], bool]
    result_digest: Callable[[], str]
    upstream: list[Step] = field(default_factory=list)
    estimate_s: float = 1.0

    def fingerprint(self) -> str:
        payload: dict[str, Any] = {
            "kind": self.kind,
            "options": self.options,
            "upstream": [u.recorded_result() for u in self.upstream],
        }
        revision = RESULT_REVISIONS.get(self.kind, 1)
        if revision != 1:
            payload["revision"] = revision
        return fingerprint(payload)

    # -- state on disk ---------------------------------------------------------------------------
    def state_path(self, state_dir: Path) -> Path:
        return state_dir / f"{self.name.replace('/', '_')}.json"

    _recorded: str | None = None

    def recorded_result(self) -> str:
        """The digest of this step's result (what downstream fingerprints depend on)."""
        if self._recorded is None:
            self._recorded = self.result_digest()
        return self._recorded

    def load_state(self, state_dir: Path) -> dict[str, Any] | None:
        path = self.state_path(state_dir)
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # an unreadable state file means "not done": the step runs again
        return state if isinstance(state, dict) else None

    def save_state(self, state_dir: Path, fp: str, seconds: float, status: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_path(state_dir)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(
                {
                    "step": self.name,
                    "fingerprint": fp,
                    "status": status,
                    "seconds": round(seconds, 2),
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "output": str(self.output),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        os.replace(tmp, path)
