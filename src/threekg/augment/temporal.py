"""Time-axis augmentations: the 3KG time mask, random crops, and CMSC segment pairs.

All are vectorised over batch and leads (index comparisons, ``gather``), never a loop over samples.
"""

from __future__ import annotations

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
