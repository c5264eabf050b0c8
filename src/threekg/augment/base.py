"""The augmentation contract: an ``nn.Module`` that draws its parameters, then applies them.

Every augmentation splits into two steps so that any augmented batch can be reproduced:

* :meth:`Augmentation.sample_params` draws everything random (angles, scales, mask starts,
  noise seeds...) from an explicit ``torch.Generator``; draws happen on the generator's device
  and are then moved to the batch's device;
* :meth:`Augmentation.apply_params` is deterministic given those parameters.

``forward(x, generator=None, return_params=False)`` does both. (The method is not called
``apply`` because :meth:`torch.nn.Module.apply` already means something else.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

Params = dict[str, torch.Tensor]


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def uniform(
    shape: tuple[int, ...],
    low: float,
    high: float,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Uniform draws in [low, high) of ``shape`` made on the generator's device, moved to ``device``."""
    u = torch.rand(shape, generator=generator, device=_generator_device(generator), dtype=dtype)
    return (low + (high - low) * u).to(device)


def normal(
    shape: tuple[int, ...], mean: float, std: float, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Normal draws (float64) of ``shape`` made on the generator's device, moved to ``device``."""
    z = torch.randn(shape, generator=generator, device=_generator_device(generator), dtype=torch.float64)
    return (mean + std * z).to(device)


def randint(
    high: int | torch.Tensor,
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """Integers uniform in [0, high) (int64); ``high`` may be a tensor broadcastable to ``shape``.

    A tensor ``high`` is handled by flooring a uniform draw, so every element has its own range.
    """
    if isinstance(high, torch.Tensor):
        u = torch.rand(shape, generator=generator, device=_generator_device(generator), dtype=torch.float64)
        h = high.to(u.device, torch.float64)
        return torch.minimum(torch.floor(u * h), h - 1).clamp_min(0).to(torch.int64).to(device)
    return torch.randint(0, high, shape, generator=generator, device=_generator_device(generator)).to(device)


def draw_seed(generator: torch.Generator | None) -> torch.Tensor:
    """A 63-bit seed (int64 scalar tensor) drawn from ``generator``, for bulk noise made on the batch's device."""
    return torch.randint(0, 2**62, (), generator=generator, device=_generator_device(generator)).cpu()


def seeded_generator(seed: torch.Tensor | int, device: torch.device) -> torch.Generator:
    """A fresh generator on ``device`` seeded with ``seed``: the same seed gives the same noise on that device."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def check_batch(x: torch.Tensor, name: str, n_leads: int | None = 12) -> None:
    """Raise a ValueError naming the augmentation when ``x`` is not (B, 12, T) floating point."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor (B, 12, T), got {type(x).__name__}")
    if x.ndim != 3 or (n_leads is not None and x.shape[1] != n_leads):
        raise ValueError(f"{name}: expected a batch of shape (B, {n_leads}, T), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating point batch, got {x.dtype}")


class Augmentation(nn.Module):
    """Base class: subclasses implement :meth:`sample_params` and :meth:`apply_params`.

    ``options`` (a dict of the constructor arguments) rebuilds the module with
    :func:`threekg.augment.build_pipeline`.
    """

    name: str = "augmentation"
    n_leads: int | None = None  # 12 for augmentations that need the standard lead order

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options: dict[str, Any] = dict(options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Draw the random parameters for batch ``x`` (B, 12, T); tensors on ``x.device``."""
        raise NotImplementedError

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Apply previously drawn ``params`` to ``x`` (B, 12, T); deterministic."""
        raise NotImplementedError

    def apply_params_(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Like :meth:`apply_params` but may overwrite ``x`` (pipelines use it on their own intermediates)."""
        return self.apply_params(x, params)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None, return_params: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, Params]:
        """Augment ``x`` (B, 12, T), optionally returning the drawn parameters."""
        check_batch(x, self.name, self.n_leads)
        params = self.sample_params(x, generator)
        out = self.apply_params(x, params)
        return (out, params) if return_params else out


def apply_with_params(module: Augmentation, x: torch.Tensor, params: Params) -> torch.Tensor:
    """Reproduce ``module(x, return_params=True)`` exactly from the returned ``params``."""
    check_batch(x, module.name, module.n_leads)
    return module.apply_params(x, params)
