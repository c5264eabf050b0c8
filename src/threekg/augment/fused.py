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
    x: torch.Tensor, spatial: ThreeKGSpatial, spatial_params: Params, mask: TimeMask, mask_params: Params,
    windows: int = 1,
) -> torch.Tensor:
    """``mask(spatial(x))`` with the given parameters, as one kernel when :func:`fused_available`.

    Args:
        x: (B, 12, T) in :data:`threekg.leads.LEADS` order; with ``windows`` = n > 1, (B, 12, n V):
            n windows of V samples end to end, read in place as the batch
            ``torch.cat([x[..., k V : (k + 1) V] for k in range(n)])`` (n B, 12, V), window after window.
        spatial, spatial_params: the heart-vector module and its ``angles``/``scales``(/``axis_order``),
            one row per output row.
        mask, mask_params: the time mask and its ``starts`` (one row per output row, 12).

    Returns:
        A new (n B, 12, T / n) tensor; ``x`` is not modified.
    """
    if windows < 1 or x.ndim != 3 or x.shape[-1] % windows:
        raise ValueError(f"spatial_time_mask: cannot cut {windows} equal windows from a batch of shape {tuple(x.shape)}")
    t_len = x.shape[-1] // windows
    if fused_available(x):
        order = spatial_params.get("axis_order")
        vcg_map, lead_map = spatial_factors_numpy(
            spatial_params["angles"].numpy(), spatial_params["scales"].numpy(), spatial.residual, spatial.matrix,
            None if order is None else order.numpy(),
        )
        starts = torch.remainder(mask_params["starts"], t_len).to(torch.int64).numpy()
        out = run_kernel(x, vcg_map, lead_map, starts, mask_length(mask.ratio, t_len), spatial.residual, windows)
        if out is not None:
            return out
    if windows > 1:
        x = torch.cat([x[..., k * t_len : (k + 1) * t_len] for k in range(windows)])
    return mask.apply_params_(spatial.apply_params(x, spatial_params), mask_params)


def run_kernel(x: torch.Tensor, vcg_map: np.ndarray, lead_map: np.ndarray, starts: np.ndarray | None,
               length: int, residual: bool, windows: int = 1) -> torch.Tensor | None:
    """The compiled pass over ``x`` (call only when :func:`fused_available`): a new tensor ``E D A x``
    (``x + E D A x`` with ``residual``) with each lead zero on ``[starts, starts + length)`` mod T;
    ``starts`` None and ``length`` 0 mask nothing. ``x`` is (B, 12, T), or with ``windows`` = n,
    (B, 12, n T) read as the n B windows of :func:`spatial_time_mask`. ``vcg_map`` (n B, 3, 12) and
    ``lead_map`` (12, 3) are :func:`~threekg.augment.spatial.spatial_factors_numpy`. None when Numba
    failed at run time (the kernel is then switched off for the process and the caller takes the
    torch path).
    """
    kernel = _kernel()
    assert kernel is not None
    xc = x.detach().contiguous()
    n_rec, n_leads, t_len = xc.shape[0], xc.shape[1], xc.shape[2] // windows
    out = torch.empty((windows * n_rec, n_leads, t_len), dtype=xc.dtype)
    xn, on = xc.numpy(), out.numpy()
    if starts is None:
        starts = np.zeros((windows * n_rec, n_leads), dtype=np.int64)
    vcg_map, starts = vcg_map.astype(xn.dtype), np.ascontiguousarray(starts)
    lead_map = lead_map.astype(xn.dtype)
    n_threads = max(1, min(torch.get_num_threads(), n_rec))
    bounds = np.linspace(0, n_rec, n_threads + 1).astype(int)
    jobs = []
    for k in range(windows):  # output rows k B + [lo, hi) are window k of records [lo, hi)
        for lo, hi in itertools.pairwise(bounds):
            rows = slice(k * n_rec + lo, k * n_rec + hi)
            jobs.append((xn[lo:hi], vcg_map[rows], lead_map, starts[rows], length, bool(residual), on[rows], k * t_len))
    pool = _threads(n_threads - 1) if n_threads > 1 else None
    try:
        futures = [pool.submit(_run_jobs, kernel, jobs[i::n_threads]) for i in range(1, n_threads)] if pool else []
        _run_jobs(kernel, jobs[0::n_threads])  # this thread does the first share itself
        for f in futures:
            f.result()
    except Exception as err:
        if not type(err).__module__.startswith("numba"):
            raise
        _disable(f"Numba failed: {type(err).__name__}: {err}")  # e.g. no compiler support on this CPU
        return None
    return out


def _run_jobs(kernel: Callable[..., Any], jobs: list[tuple[Any, ...]]) -> None:
    for job in jobs:
        kernel(*job)
