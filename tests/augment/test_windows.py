"""Where the two views of a pair are cut from: ``window_span`` and ``window_pair``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from threekg.augment import WINDOW_MODES, window_pair, window_span, window_starts


def ramp(b: int, t: int) -> torch.Tensor:
    """(b, 12, t) whose value at sample s is s: a window's first value is its start."""
    return torch.arange(t, dtype=torch.float64).expand(b, 12, t).clone()


def test_spans() -> None:
    assert window_span("same", 250, 1000) == 250
    assert window_span("adjacent", 250, 1000) == 500
    assert window_span("random", 250, 1000, min_offset=250) == 1000
    with pytest.raises(ValueError, match="need 1100 samples, but the recordings have 1000"):
        window_span("random", 250, 1000, min_offset=850)
    with pytest.raises(ValueError, match="need 1200 samples"):
        window_span("adjacent", 600, 1000)
    with pytest.raises(ValueError, match="windows must be one of"):
        window_span("overlap", 10, 100)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 40), extra=st.integers(0, 60), offset_frac=st.floats(0, 1), seed=st.integers(0, 2**31),
       mode=st.sampled_from(["adjacent", "random"]))
def test_shortcut_free_views_never_share_a_window(length: int, extra: int, offset_frac: float, seed: int,
                                                  mode: str) -> None:
    """Property: adjacent windows tile 2 x length; random windows start >= min_offset apart, inside the span."""
    t = (2 * length if mode == "adjacent" else length) + extra
    min_offset = int(offset_frac * (t - length)) if mode == "random" else 0
    if mode == "random" and min_offset == 0:
        min_offset = min(length, t - length)  # non-overlapping when it fits
    x = ramp(16, t)
    a, b, p = window_pair(x, length, mode, min_offset, torch.Generator().manual_seed(seed), return_params=True)
    s = p["starts"]
    assert a.shape == b.shape == (16, 12, length)
    assert ((s >= 0) & (s + length <= t)).all()
    torch.testing.assert_close(a[:, 0, 0], s[:, 0].double())  # the crops are where the params say
    torch.testing.assert_close(b[:, 0, 0], s[:, 1].double())
    gap = (s[:, 1] - s[:, 0]).abs()
    if mode == "adjacent":
        assert (s[:, 1] - s[:, 0] == length).all()  # adjacent, never overlapping
    else:
        assert (gap >= min_offset).all()
    if min_offset >= length or mode == "adjacent":
        assert (gap >= length).all()  # no sample is shared by the two windows


def test_same_windows_are_identical() -> None:
    x = torch.randn(8, 12, 300, generator=torch.Generator().manual_seed(0))
    a, b = window_pair(x, 100, "same", generator=torch.Generator().manual_seed(1))[:2]
    assert torch.equal(a, b)


def test_random_pairs_are_uniform_over_the_allowed_pairs() -> None:
    """Chi-square: every ordered pair (a, b) in [0, 6]^2 with |a - b| >= 2 is equally likely."""
    t, length, min_offset, n = 16, 10, 2, 60000
    s = window_pair(ramp(n, t), length, "random", min_offset, torch.Generator().manual_seed(3),
                    return_params=True)[2]["starts"].numpy()
    allowed = [(i, j) for i in range(7) for j in range(7) if abs(i - j) >= min_offset]
    counts = np.zeros((7, 7))
    np.add.at(counts, (s[:, 0], s[:, 1]), 1)
    observed = np.array([counts[i, j] for i, j in allowed])
    assert observed.sum() == n  # nothing outside the allowed set
    expected = n / len(allowed)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    # 29 degrees of freedom: the 99.9th percentile is 58.3
    assert chi2 < 58.3, chi2


def test_min_offset_zero_allows_any_pair_including_the_same_window() -> None:
    s = window_pair(ramp(4000, 12), 10, "random", 0, torch.Generator().manual_seed(0),
                    return_params=True)[2]["starts"]
    pairs = {tuple(r) for r in s.tolist()}
    assert pairs == {(i, j) for i in range(3) for j in range(3)}


def test_window_draws_come_from_the_generator() -> None:
    x = torch.randn(4, 12, 500, generator=torch.Generator().manual_seed(0))
    for mode in WINDOW_MODES:
        one = window_pair(x, 100, mode, 50 if mode == "random" else 0, torch.Generator().manual_seed(7))
        two = window_pair(x, 100, mode, 50 if mode == "random" else 0, torch.Generator().manual_seed(7))
        assert all(torch.equal(u, v) for u, v in zip(one, two, strict=True))


@pytest.mark.parametrize("mode, min_offset", [("same", 0), ("adjacent", 0), ("random", 2), ("random", 0)])
def test_numpy_starts_have_the_same_distribution_as_the_torch_pairs(mode: str, min_offset: int) -> None:
    """The loader's NumPy draw and window_pair's torch draw: same support, same frequencies (chi-square)."""
    t, length, n = 16, 10 if mode != "adjacent" else 5, 40000
    a = window_starts(np.random.default_rng(0), n, t, length, mode, min_offset)
    b = window_pair(ramp(n, t), length, mode, min_offset, torch.Generator().manual_seed(1),
                    return_params=True)[2]["starts"].numpy()
    ca, cb = (np.unique(s, axis=0, return_counts=True) for s in (a, b))
    assert np.array_equal(ca[0], cb[0])  # the same allowed pairs
    expected = (ca[1] + cb[1]) / 2
    chi2 = float((((ca[1] - expected) ** 2 + (cb[1] - expected) ** 2) / expected).sum())
    assert chi2 < 3 * max(len(expected), 1) + 20, chi2  # far below what a different distribution gives
    if mode != "same":
        gap = np.abs(a[:, 1] - a[:, 0])
        assert (gap >= (length if mode == "adjacent" else min_offset)).all()
