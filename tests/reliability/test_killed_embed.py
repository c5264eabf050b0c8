"""`threekg embed` SIGKILLed at seeded moments, then run again: the same embeddings as an uninterrupted run.

Between kills the partial output must be consistent: ``progress.json`` never claims a row that is
not in ``embeddings.npy`` yet, and no ``embed.json`` (the completion mark) exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from encoder_fixtures import make_data, make_run

from . import killing
from .test_killed_runs import kill_and_resume, kill_points


@pytest.mark.slow  # real processes: ~80 s on the busy 2-core machine (the in-process interrupt test is fast)
def test_embed_killed_three_times_equals_uninterrupted(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data", n=1200, seconds=4.0)
    run = make_run(tmp_path / "run", crop_samples=100)
    logs = tmp_path / "logs"
    logs.mkdir()
    kwargs = {"progress": False, "batch_size": 32, "chunk_batches": 2}
    ref = tmp_path / "ref"
    outcome = killing.run("threekg.embed:embed_dataset", data, run, ref, log=logs / "ref.log", **kwargs)
    assert outcome.exitcode == 0, (logs / "ref.log").read_text()[-3000:]
    reference = np.load(ref / "embeddings.npy")
    out = tmp_path / "out"

    def check_partial() -> None:
        if (out / "embed.json").exists():
            return
        state = json.loads((out / "progress.json").read_text()) if (out / "progress.json").exists() else None
        if state is None:
            return
        done = state["rows_done"]
        z = np.load(out / "embeddings.npy", mmap_mode="r")
        assert np.array_equal(z[:done], reference[:done]), f"committed rows 0..{done} differ from the reference"

    outcomes = kill_and_resume("threekg.embed:embed_dataset", {"data": data, "encoder": run, "out": out, **kwargs},
                               lambda: (out / "progress.json").exists(), kill_points(3, max(outcome.seconds, 0.05), 3),
                               check_partial, logs)
    assert any(o.killed for o in outcomes), f"every run finished before its kill point ({outcomes})"
    assert np.array_equal(np.load(out / "embeddings.npy"), reference)
    assert (out / "embed.json").exists() and not (out / "progress.json").exists()
