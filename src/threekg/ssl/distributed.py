"""Gathering embeddings across processes for contrastive negatives, with gradients.

All helpers are no-ops (return the input) when torch.distributed is not initialised or the
world size is 1, so the same code runs on one CPU and on many GPUs. Local batch sizes may
differ between processes (the last, smaller batch of an epoch): sizes are gathered first and
tensors padded to the largest size for the collective.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """True when torch.distributed is available, initialised and has more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def gather_sizes(n: int, device: torch.device) -> list[int]:
    """The first-dimension size of every process's tensor, in rank order."""
    if not is_distributed():
        return [n]
    local = torch.tensor([n], dtype=torch.long, device=device)
    out = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(out, local)
    return [int(t.item()) for t in out]


def _all_gather_cat(x: Tensor, sizes: list[int]) -> Tensor:
    """Concatenate every process's ``x`` (first dims ``sizes``) along dim 0, padding for the collective."""
    x = x.contiguous()
    largest = max(sizes)
    if x.shape[0] < largest:
        pad = x.new_zeros((largest - x.shape[0], *x.shape[1:]))
        x = torch.cat([x, pad])
    out = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(out, x)
    return torch.cat([t[:n] for t, n in zip(out, sizes, strict=True)])


class _GatherWithGrad(torch.autograd.Function):
    """Forward: all-gather and concatenate. Backward: all-reduce (sum) the gradient of the
    gathered tensor and return this process's rows.

    Why the sum: process r's loss L_r depends on every process's rows through the gathered
    tensor, so the gradient reaching x_r must be sum_q dL_q/dx_r; process q computes only
    dL_q/d(gathered), and the sum over q followed by taking r's slice is exactly that.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        sizes = gather_sizes(x.shape[0], x.device)
        me = dist.get_rank()
        ctx.start = sum(sizes[:me])
        ctx.n = x.shape[0]
        return _all_gather_cat(x, sizes)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.start + ctx.n]


def gather_with_grad(x: Tensor) -> Tensor:
    """All processes' ``x`` concatenated along dim 0 in rank order, differentiable.

    ``(n_local, ...)`` -> ``(sum of n over processes, ...)``. Every process must call it (a
    collective). Gradients flow back to the process that owns each row (see _GatherWithGrad).
    Returns ``x`` itself when not distributed.
    """
    if not is_distributed():
        return x
    out: Tensor = _GatherWithGrad.apply(x)
    return out


def gather_no_grad(x: Tensor) -> Tensor:
    """All processes' ``x`` concatenated along dim 0 in rank order, without gradient (e.g. indexes)."""
    if not is_distributed():
        return x
    with torch.no_grad():
        return _all_gather_cat(x.detach(), gather_sizes(x.shape[0], x.device))
