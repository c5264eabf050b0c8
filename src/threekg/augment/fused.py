"""The 3KG view (heart-vector transform, then time mask) in one pass over the batch, on the CPU.

Applied one after the other, the two augmentations read and write the whole batch three times
(the 12 x 12 product, then the mask) and do 144 multiply-adds per sample. On the CPU this module
runs them as one compiled kernel (Numba) that reads the 8 independent leads
once, goes through the heart vector (72 multiply-adds per sample, the map has rank 3: see
:func:`threekg.augment.spatial.spatial_factors_numpy`), and writes each output lead once: zeros
on its masked window, values elsewhere (masked values are never computed). The batch is split
over ``torch.get_num_threads()`` threads.

:class:`threekg.augment.compose.Compose` uses it for a ``threekg_spatial`` directly followed by a
``time_mask``, with the parameters the two modules draw (so the output, and its replay from the
returned parameters, are those of the two modules, to float rounding). It falls back to the two
torch modules on other devices, for dtypes other than float32/float64, for tensors that require
grad, when Numba is not installed, or when ``THREEKG_FUSED=0`` is set in the environment. The public
:func:`threekg.augment.spatial.spatial_transform` takes the same kernel (without a mask) on CPU tensors.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from threekg.augment.base import Params
from threekg.augment.spatial import ThreeKGSpatial, spatial_factors_numpy
from threekg.augment.temporal import TimeMask, mask_length

log = logging.getLogger(__name__)


@functools.cache
def _kernel() -> Callable[..., Any] | None:
    """The compiled kernel (compiled per dtype on first call, cached on disk), or None without Numba.

    It is serial and releases the GIL; :func:`spatial_time_mask` splits the batch over plain threads.
    Numba's own ``parallel=True`` was 4x slower here once torch had run: its OpenMP pool and torch's
    (two runtimes, both spin-waiting) fought over the cores.
    """
    try:
        from threekg.augment._fused_kernel import spatial_time_mask_kernel
    except ImportError:  # pragma: no cover - numba is a dependency; the fallback is for stripped installs
        return None
    except Exception as err:  # e.g. no writable cache folder for Numba: keep working on the torch path
        _disable(f"could not set up the compiled kernel: {type(err).__name__}: {err}")
        return None
    return spatial_time_mask_kernel


_broken: list[str] = []  # why the fused kernel was switched off in this process (empty: it is on)


def _disable(reason: str) -> None:
    if not _broken:
        log.warning("fused 3KG view switched off, using the torch modules instead (%s); set NUMBA_CACHE_DIR "
                    "to a writable folder if Numba could not cache", reason)
    _broken.append(reason)


_pool: tuple[int, int, ThreadPoolExecutor] | None = None


def _threads(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` threads for this process (made again after a fork or a change of ``n``)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid() or _pool[1] != n:
        _pool = (os.getpid(), n, ThreadPoolExecutor(max_workers=n, thread_name_prefix="threekg-fused"))
    return _pool[2]


def fused_available(x: torch.Tensor) -> bool:
    """Whether :func:`spatial_time_mask` runs the compiled kernel for ``x`` (B, 12, T)."""
    return (
        os.environ.get("THREEKG_FUSED", "1") != "0"
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and not x.requires_grad
        and x.ndim == 3
        and x.shape[1] == 12
        and _kernel() is not None
        and not _broken
    )


def spatial_time_mask(
    x: torch.Tensor, spatial: ThreeKGSpatial, spatial_params: Params, mask: TimeMask, mask_params: Params
) -> torch.Tensor:
    """``mask(spatial(x))`` with the given parameters, as one kernel when :func:`fused_available`.

    Args:
        x: (B, 12, T) in :data:`threekg.leads.LEADS` order.
        spatial, spatial_params: the heart-vector module and its ``angles``/``scales``(/``axis_order``).
        mask, mask_params: the time mask and its ``starts`` (B, 12).

    Returns:
        A new (B, 12, T) tensor; ``x`` is not modified.
    """
    if fused_available(x):
        order = spatial_params.get("axis_order")
        vcg_map, lead_map = spatial_factors_numpy(
            spatial_params["angles"].numpy(), spatial_params["scales"].numpy(), spatial.residual, spatial.matrix,
            None if order is None else order.numpy(),
        )
        t_len = x.shape[-1]
        starts = torch.remainder(mask_params["starts"], t_len).to(torch.int64).numpy()
        out = run_kernel(x, vcg_map, lead_map, starts, mask_length(mask.ratio, t_len), spatial.residual)
        if out is not None:
            return out
    return mask.apply_params_(spatial.apply_params(x, spatial_params), mask_params)


def run_kernel(x: torch.Tensor, vcg_map: np.ndarray, lead_map: np.ndarray, starts: np.ndarray | None,
               length: int, residual: bool) -> torch.Tensor | None:
    """The compiled pass over ``x`` (B, 12, T) (call only when :func:`fused_available`): a new tensor
    ``E D A x`` (``x + E D A x`` with ``residual``) with each lead zero on ``[starts, starts + length)``
    mod T; ``starts`` None and ``length`` 0 mask nothing. ``vcg_map`` (B, 3, 12) and ``lead_map``
    (12, 3) are :func:`~threekg.augment.spatial.spatial_factors_numpy`. None when Numba failed at run
    time (the kernel is then switched off for the process and the caller takes the torch path).
    """
    kernel = _kernel()
    assert kernel is not None
    xc = x.detach().contiguous()
    out = torch.empty_like(xc)
    dtype = xc.numpy().dtype
    if starts is None:
        starts = np.zeros((x.shape[0], x.shape[1]), dtype=np.int64)
    args = (xc.numpy(), vcg_map.astype(dtype), np.ascontiguousarray(starts), out.numpy())
    lead_map = lead_map.astype(dtype)
    n_threads = max(1, min(torch.get_num_threads(), x.shape[0]))
    bounds = np.linspace(0, x.shape[0], n_threads + 1).astype(int)
    jobs = []
    for lo, hi in itertools.pairwise(bounds):
        xs, a_s, st, o_s = (arr[lo:hi] for arr in args)
        jobs.append((xs, a_s, lead_map, st, length, bool(residual), o_s))
    pool = _threads(n_threads - 1) if n_threads > 1 else None
    try:
        futures = [pool.submit(kernel, *job) for job in jobs[1:]] if pool is not None else []
        kernel(*jobs[0])  # this thread does the first share itself
        for f in futures:
            f.result()
    except Exception as err:
        if not type(err).__module__.startswith("numba"):
            raise
        _disable(f"Numba failed: {type(err).__name__}: {err}")  # e.g. no compiler support on this CPU
        return None
    return out
