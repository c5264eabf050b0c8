"""Time-axis augmentations: the 3KG time mask, random crops, and CMSC segment pairs.

All are vectorised over batch and leads (index comparisons, ``gather``), never a loop over samples.
"""

from __future__ import annotations

import numpy as np
import torch

from threekg.augment.base import Augmentation, Params, check_batch, randint
from threekg.errors import UsageError


def mask_length(ratio: float, n_samples: int) -> int:
    """Samples masked per lead: floor(ratio * T)."""
    return int(ratio * n_samples)


def time_keep_mask(starts: torch.Tensor, length: int, n_samples: int) -> torch.Tensor:
    """Boolean keep-mask (B, L, T): False on the ``length`` samples from ``starts`` (B, L), wrapping around."""
    return ~time_mask_positions(starts, length, n_samples)


def time_mask_positions(starts: torch.Tensor, length: int, n_samples: int) -> torch.Tensor:
    """Boolean (B, L, T), True on the ``length`` masked samples from ``starts`` (B, L), wrapping around.

    Sample t of a lead is masked when (t - start) mod T < length. Every row is a circular shift of one
    pattern p[u] = (u mod T) < length over u in [0, 2T): row(start) = p[T - start : 2T - start]. The rows
    are picked from a strided view of p with one ``index_select`` (no per-element modulo, no loop).
    """
    t = n_samples
    pattern = torch.arange(2 * t, device=starts.device) % t < length  # (2T,)
    windows = pattern.unfold(0, t, 1)  # (T + 1, T) view: windows[k] = p[k : k + T]
    rows = (t - starts.reshape(-1)).to(torch.int64)
    return torch.index_select(windows, 0, rows).view(*starts.shape, t)


class TimeMask(Augmentation):
    """Zero one contiguous block of floor(ratio * T) samples per lead, from a uniform start, wrapping (FS).

    Options:
        ratio: 0.5 - the FS default (exactly half of every lead is masked).
        same_for_all_leads: False - FS draws a start per lead; True masks one window on all leads.
    """

    name = "time_mask"

    def __init__(self, ratio: float = 0.5, same_for_all_leads: bool = False) -> None:
        super().__init__(ratio=ratio, same_for_all_leads=same_for_all_leads)
        if not 0.0 <= ratio <= 1.0:
            raise UsageError(f"time_mask: ratio must be in [0, 1], got {ratio}")
        self.ratio, self.same_for_all_leads = float(ratio), same_for_all_leads

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        b, n_leads, t = x.shape
        starts = randint(t, (b, 1 if self.same_for_all_leads else n_leads), generator, x.device)
        return {"starts": starts.expand(b, n_leads).contiguous()}

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return self.apply_params_(x.clone(), params)

    def apply_params_(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        masked = time_mask_positions(params["starts"], mask_length(self.ratio, x.shape[-1]), x.shape[-1])
        return x.masked_fill_(masked, 0.0)


class RandomCrop(Augmentation):
    """A random window of ``length`` samples per ECG (the same window on all leads): (B, L, T) -> (B, L, length).

    ``length`` has no default: it depends on the sampling rate and the encoder (3KG uses 5 s).
    """

    name = "random_crop"

    def __init__(self, length: int) -> None:
        super().__init__(length=length)
        if int(length) < 1:
            raise ValueError(f"random_crop: length must be >= 1, got {length}")
        self.length = int(length)

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        t = x.shape[-1]
        if t < self.length:
            raise ValueError(f"random_crop: cannot crop {self.length} samples from recordings of {t}")
        return {"starts": randint(t - self.length + 1, (x.shape[0],), generator, x.device)}

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return crop(x, params["starts"], self.length)


def crop(x: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """Windows x[b, :, starts[b] : starts[b] + length] for every b, via one gather: (B, L, length)."""
    if bool((starts < 0).any()) or bool((starts + length > x.shape[-1]).any()):
        raise ValueError(
            f"crop: windows of {length} samples from starts {starts.tolist()} exceed T={x.shape[-1]}"
        )
    idx = starts.to(x.device).view(-1, 1, 1) + torch.arange(length, device=x.device)
    return torch.gather(x, 2, idx.expand(x.shape[0], x.shape[1], length))


def segment_pair(
    x: torch.Tensor, length: int, generator: torch.Generator | None = None, return_params: bool = False
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, Params]:
    """Two adjacent non-overlapping crops of each recording (CLOCS-CMSC positives).

    Args:
        x: (B, L, T) with T >= 2 * length.
        length: samples per segment.
        generator: explicit random generator (start drawn uniformly in [0, T - 2 * length]).
        return_params: also return ``{"starts": (B,)}``; the segments are x[start : start + length]
            and x[start + length : start + 2 * length].

    Returns:
        (first, second), each (B, L, length) (plus the params dict when asked).
    """
    check_batch(x, "segment_pair", None)
    t = x.shape[-1]
    if t < 2 * length or length < 1:
        raise ValueError(f"segment_pair: need T >= 2 * length >= 2, got T={t}, length={length}")
    starts = randint(t - 2 * length + 1, (x.shape[0],), generator, x.device)
    both = crop(x, starts, 2 * length)
    first, second = both[..., :length], both[..., length:]
    if return_params:
        return first, second, {"starts": starts}
    return first, second


WINDOW_MODES = ("same", "adjacent", "random")
"""Where the two views of a recording are cut from (see :func:`window_pair`)."""


def window_span(mode: str, length: int, record_samples: int, min_offset: int = 0) -> int:
    """Samples the loader must read per recording so that :func:`window_pair` can cut two views of ``length``.

    ``same``: ``length``; ``adjacent``: ``2 x length``; ``random``: the whole recording
    (``record_samples``), which must leave room for two starts ``min_offset`` apart.
    Raises ValueError naming the numbers when the recording is too short.
    """
    if mode not in WINDOW_MODES:
        raise ValueError(f"windows must be one of {WINDOW_MODES}, got {mode!r}")
    if length < 1:
        raise ValueError(f"views need at least 1 sample, got {length}")
    need = {"same": length, "adjacent": 2 * length, "random": length + max(0, min_offset)}[mode]
    if need > record_samples:
        raise ValueError(
            f"windows={mode!r}: two views of {length} samples"
            + (f" with starts at least {min_offset} apart" if mode == "random" else "")
            + f" need {need} samples, but the recordings have {record_samples}; shorten the views "
            "(data.crop_seconds) or the minimum offset")
    return record_samples if mode == "random" else need


def _gap_cdf(span: int, min_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaps g in [min_offset, span] and the cumulative count of ordered start pairs at each gap.

    A pair of starts (a, b) in [0, span]^2 with |a - b| = g > 0 occurs 2 (span - g + 1) times, with
    g = 0 once: drawing g from these weights, then the lower start uniformly in [0, span - g], then
    the order, draws a pair uniformly among all pairs with |a - b| >= min_offset.
    """
    gaps = np.arange(min_offset, span + 1, dtype=np.float64)
    return gaps, np.cumsum((span - gaps + 1) * np.where(gaps > 0, 2.0, 1.0))


def window_starts(rng: np.random.Generator, n: int, record_samples: int, length: int, mode: str,
                  min_offset: int = 0) -> np.ndarray:
    """(n, 2) int64 starts of the two windows of ``length`` samples in recordings of ``record_samples``.

    The NumPy twin of :func:`window_pair` for data loaders that read only the two windows
    (``threekg.train.data.CropDataset``): the same distributions (``same``: one uniform start twice;
    ``adjacent``: a uniform start s and s + length; ``random``: uniform over the pairs at least
    ``min_offset`` apart), drawn from ``rng``.
    """
    window_span(mode, length, record_samples, min_offset)  # validates
    if mode == "same":
        s = rng.integers(0, record_samples - length + 1, size=n)
        return np.stack([s, s], axis=1).astype(np.int64)
    if mode == "adjacent":
        s = rng.integers(0, record_samples - 2 * length + 1, size=n)
        return np.stack([s, s + length], axis=1).astype(np.int64)
    span = record_samples - length
    gaps, cdf = _gap_cdf(span, max(0, min_offset))
    gap = gaps[np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), gaps.size - 1)].astype(np.int64)
    low = np.floor(rng.random(n) * (span - gap + 1)).astype(np.int64)
    swap = rng.integers(0, 2, size=n).astype(bool)
    return np.stack([np.where(swap, low + gap, low), np.where(swap, low, low + gap)], axis=1)


def _gap_draws(n: int, span: int, min_offset: int, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
    """(n,) gaps drawn from :func:`_gap_cdf`'s weights with ``generator`` (int64, on ``device``)."""
    gaps_np, cdf_np = _gap_cdf(span, min_offset)
    gaps, cdf = torch.from_numpy(gaps_np), torch.from_numpy(cdf_np)
    u = torch.rand((n,), generator=generator, dtype=torch.float64,
                   device=generator.device if generator is not None else torch.device("cpu")).cpu()
    pick = torch.searchsorted(cdf, u * cdf[-1], right=True).clamp_max(gaps.numel() - 1)
    return gaps[pick].to(torch.int64).to(device)


def window_pair(
    x: torch.Tensor, length: int, mode: str = "same", min_offset: int = 0,
    generator: torch.Generator | None = None, return_params: bool = False,
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, Params]:
    """Two windows of ``length`` samples per recording, from which the two views of a pair are made.

    Args:
        x: (B, L, T) the loader's span of each recording (see :func:`window_span`).
        length: samples per view.
        mode: ``same`` - both windows are the same ``length`` samples (the 3KG paper's recipe: the
            views differ only by their augmentations, so they also share the exact timing of every
            beat); ``adjacent`` - two adjacent non-overlapping windows (as CLOCS-CMSC), the split
            point at a uniform position; ``random`` - two independent uniform windows whose starts
            are at least ``min_offset`` samples apart (uniform over all such pairs).
        min_offset: ``random`` only: the smallest distance between the two starts, in samples.
        generator: explicit random generator.
        return_params: also return ``{"starts": (B, 2) int64}`` (start of each window in ``x``).

    Returns:
        (first, second), each (B, L, length) (plus the params dict when asked).
    """
    check_batch(x, "window_pair", None)
    t, b = x.shape[-1], x.shape[0]
    window_span(mode, length, t, min_offset)  # validates
    if mode == "same":
        s = randint(t - length + 1, (b,), generator, x.device)
        starts = torch.stack([s, s], dim=1)
    elif mode == "adjacent":
        s = randint(t - 2 * length + 1, (b,), generator, x.device)
        starts = torch.stack([s, s + length], dim=1)
    else:
        span = t - length  # starts live in [0, span]
        gap = _gap_draws(b, span, max(0, min_offset), generator, x.device)
        low = torch.floor(torch.rand((b,), generator=generator, dtype=torch.float64,
                                     device=generator.device if generator is not None else torch.device("cpu"))
                          .to(x.device) * (span - gap + 1).to(torch.float64)).to(torch.int64)
        swap = randint(2, (b,), generator, x.device).bool()
        first, second = low, low + gap
        starts = torch.stack([torch.where(swap, second, first), torch.where(swap, first, second)], dim=1)
    a, c = crop(x, starts[:, 0], length), crop(x, starts[:, 1], length)
    if return_params:
        return a, c, {"starts": starts}
    return a, c
