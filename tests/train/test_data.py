"""Data order and crops: a pure function of (seed, batch number), disjoint across processes."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch

from threekg.data import open_dataset
from threekg.train.data import CropDataset, StepBatchSampler, partner_table


def test_sampler_resumes_exactly_and_covers_each_epoch_once() -> None:
    sampler = StepBatchSampler(50, 8, seed=3)
    first = list(islice(iter(sampler), 14))
    resumed = list(islice(iter(StepBatchSampler(50, 8, seed=3, start_batch=9)), 5))
    assert resumed == first[9:]
    assert [b[0][1] for b in first] == list(range(14))  # items carry their batch number
    epoch0 = [r for b in first[:6] for r, _, _ in b]  # 50 // 8 = 6 batches, tail of 2 dropped
    assert len(set(epoch0)) == 48
    assert first[:6] != first[6:12]  # a new permutation each epoch
    assert sampler.batch(10) == first[10]


def test_ranks_split_each_global_batch_without_overlap() -> None:
    r0 = list(islice(iter(StepBatchSampler(40, 4, seed=0, world_size=2, rank=0)), 5))
    r1 = list(islice(iter(StepBatchSampler(40, 4, seed=0, world_size=2, rank=1)), 5))
    for a, b in zip(r0, r1, strict=True):
        assert not {r for r, _, _ in a} & {r for r, _, _ in b}
        assert [p for _, _, p in a] == [0, 1, 2, 3] and [p for _, _, p in b] == [4, 5, 6, 7]
    with pytest.raises(ValueError, match="fewer than one global batch"):
        StepBatchSampler(7, 4, seed=0, world_size=2)


def test_crops_are_deterministic_windows_of_the_memmap(tiny_data: Path) -> None:
    ds = CropDataset(tiny_data, 100, seed=0)
    item = ds[(5, 7, 2)]
    assert item["x"].shape == (12, 100) and item["x"].dtype == torch.float32
    assert torch.equal(item["x"], ds[(5, 7, 2)]["x"])
    assert not torch.equal(item["x"], ds[(5, 7, 3)]["x"])
    signals = open_dataset(tiny_data).signals
    windows = [np.asarray(signals[5, :, s : s + 100]) for s in range(signals.shape[-1] - 99)]
    assert any(np.array_equal(w, item["x"].numpy()) for w in windows)
    assert int(item["index"]) == 5 and int(item["patient"]) == 2 and int(item["batch"]) == 7
    with pytest.raises(ValueError, match="do not fit"):
        CropDataset(tiny_data, 10_000, seed=0)


def test_minmax_scales_the_whole_recording_by_one_scalar(tiny_data: Path) -> None:
    raw, scaled = CropDataset(tiny_data, 100, seed=0), CropDataset(tiny_data, 100, seed=0, normalize="minmax")
    full = np.asarray(open_dataset(tiny_data).signals[3])
    span = float(full.max() - full.min())
    torch.testing.assert_close(scaled[(3, 0, 0)]["x"], raw[(3, 0, 0)]["x"] / span)


def test_pclr_partner_is_another_recording_of_the_same_patient(tiny_data: Path) -> None:
    assert [p.tolist() for p in partner_table(np.array([0, 0, 1, 2, 2, 2]))] == [[1], [0], [], [4, 5], [3, 5], [3, 4]]
    ds = CropDataset(tiny_data, 100, seed=0, paired=True)
    signals = open_dataset(tiny_data).signals
    item = ds[(4, 0, 0)]  # record 4's patient also has record 5
    assert any(np.array_equal(np.asarray(signals[5, :, s : s + 100]), item["x2"].numpy()) for s in range(401))


def test_two_window_items_read_only_the_two_windows(tiny_data) -> None:
    """With a method's loader_windows, an item is its two windows end to end, starts from window_starts."""
    import numpy as np

    from threekg.augment import window_starts
    from threekg.data import open_dataset
    from threekg.train.data import CropDataset

    ds = CropDataset(tiny_data, 2 * 100, seed=3, windows=("random", 100, 100))
    items = [(r, 5, i) for i, r in enumerate([4, 9, 2])]
    x = ds.__getitems__(items)["x"].numpy()
    starts = window_starts(np.random.default_rng([3, 5, 0]), 3, ds.n_samples, 100, "random", 100)
    signals = open_dataset(tiny_data).signals
    for i, r in enumerate([4, 9, 2]):
        a, b = starts[i]
        assert np.array_equal(x[i, :, :100], signals[r, :, a:a + 100])
        assert np.array_equal(x[i, :, 100:], signals[r, :, b:b + 100])
        assert abs(a - b) >= 100


def test_compiled_window_copy_equals_the_python_loop(tiny_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader's compiled copy and its Python fallback read the same windows; a start outside the
    recording is refused (the compiled copy has no bounds check of its own)."""
    import threekg.train.data as data

    items = [(r, 2, i) for i, r in enumerate([7, 0, 31, 7, 12])]
    for kwargs in ({"crop_samples": 150}, {"crop_samples": 200, "windows": ("random", 100, 100)}):
        compiled = CropDataset(tiny_data, seed=4, **kwargs).__getitems__(items)["x"]  # type: ignore[arg-type]
        monkeypatch.setattr(data, "_broken", ["forced off by the test"])
        loop = CropDataset(tiny_data, seed=4, **kwargs).__getitems__(items)["x"]  # type: ignore[arg-type]
        monkeypatch.setattr(data, "_broken", [])
        assert data._window_kernel() is not None
        assert torch.equal(compiled, loop)
    ds = CropDataset(tiny_data, 100, seed=0)
    with pytest.raises(ValueError, match="do not fit"):
        ds._read(np.array([1]), np.array([[ds.n_samples - 99]]), 100)
