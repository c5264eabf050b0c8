"""Time mask (FS semantics), random crop and CMSC segment pairs."""

from __future__ import annotations

import pytest
import torch

from threekg.augment import RandomCrop, TimeMask, segment_pair, time_keep_mask


@pytest.mark.parametrize("t, ratio", [(100, 0.5), (101, 0.5), (250, 0.3), (7, 1.0), (50, 0.0)])
def test_time_mask_zeroes_exactly_floor_ratio_t_per_lead(t: int, ratio: float) -> None:
    x = torch.rand(16, 12, t) + 1.0  # strictly positive so zeros are the mask
    g = torch.Generator().manual_seed(0)
    y, p = TimeMask(ratio)(x, generator=g, return_params=True)
    n_zero = (y == 0).sum(dim=-1)
    assert torch.all(n_zero == int(ratio * t))
    assert p["starts"].shape == (16, 12)
    assert torch.equal(y[y != 0], x[y != 0])


def test_time_mask_is_one_contiguous_block_that_wraps() -> None:
    t, length = 20, 8
    starts = torch.tensor([[0, 5, 15, 19]])
    keep = time_keep_mask(starts, length, t)[0]
    for lead, s in enumerate(starts[0].tolist()):
        masked = {(s + k) % t for k in range(length)}
        expected = torch.tensor([i not in masked for i in range(t)])
        assert torch.equal(keep[lead], expected), (s, keep[lead])
    assert not keep[2, 0] and not keep[2, 2] and keep[2, 3]  # start 15 wraps onto 0..2


def test_time_mask_starts_are_independent_per_lead_or_shared() -> None:
    x = torch.ones(32, 12, 500)
    g = torch.Generator().manual_seed(1)
    _, p = TimeMask()(x, generator=g, return_params=True)
    assert p["starts"].unique().numel() > 100
    assert p["starts"].min() >= 0 and p["starts"].max() < 500
    y, p = TimeMask(same_for_all_leads=True)(x, generator=g, return_params=True)
    assert torch.all(p["starts"] == p["starts"][:, :1])
    assert torch.all(y == y[:, :1])


def test_random_crop_windows_match_slicing() -> None:
    x = torch.arange(3 * 12 * 50, dtype=torch.float32).view(3, 12, 50)
    y, p = RandomCrop(20)(x, generator=torch.Generator().manual_seed(2), return_params=True)
    assert y.shape == (3, 12, 20)
    for b, s in enumerate(p["starts"].tolist()):
        assert torch.equal(y[b], x[b, :, s : s + 20])
    with pytest.raises(ValueError, match="cannot crop 60"):
        RandomCrop(60)(x)


def test_segment_pair_is_adjacent_and_non_overlapping() -> None:
    x = torch.arange(4 * 12 * 100, dtype=torch.float64).view(4, 12, 100)
    first, second, p = segment_pair(x, 30, torch.Generator().manual_seed(3), return_params=True)
    assert first.shape == second.shape == (4, 12, 30)
    for b, s in enumerate(p["starts"].tolist()):
        assert 0 <= s <= 40
        assert torch.equal(first[b], x[b, :, s : s + 30])
        assert torch.equal(second[b], x[b, :, s + 30 : s + 60])
    with pytest.raises(ValueError, match="T >= 2 \\* length"):
        segment_pair(x, 51)
