"""NT-Xent (normalised temperature-scaled cross entropy) with multiple positives per anchor.

For anchor i (a local row) with keys k (all rows of the global batch), cosine similarities
s_ia = <z_i, k_a> / (|z_i| |k_a|), A(i) = every key except i itself, and positives
P(i) = {p in A(i): index_p == index_i}:

    l_i = -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip / t) / sum_{a in A(i)} exp(s_ia / t) )
    loss = mean_i l_i

This is the SupCon "L_out" form (Khosla et al. 2020, eq. 2): each positive appears in its
own cross-entropy term and the others stay in the denominator. When every index occurs
exactly twice, |P(i)| = 1 and l_i is the SimCLR NT-Xent term of anchor i, so the loss is the
SimCLR loss averaged over all 2N views (tests/ssl/test_losses.py checks this).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from threekg.ssl.distributed import (
    gather_no_grad,
    gather_sizes,
    gather_with_grad,
    is_distributed,
    rank,
    world_size,
)


def _check_temperature(temperature: float) -> None:
    if not isinstance(temperature, int | float) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if temperature != temperature or temperature == float("inf"):
        raise ValueError(f"temperature must be finite, got {temperature!r}")


def nt_xent(
    z: Tensor,
    indexes: Tensor,
    temperature: float = 0.1,
    *,
    z_all: Tensor | None = None,
    indexes_all: Tensor | None = None,
    anchor_offset: int = 0,
) -> Tensor:
    """Multi-positive NT-Xent on cosine similarity; a scalar, the mean over the local anchors.

    Args:
        z: ``(n, d)`` local embeddings (anchors); L2-normalised inside.
        indexes: ``(n,)`` integer identity of each row (sample, recording or patient id); rows
            sharing an index are positives. In distributed use they must be global ids (the same
            value on two processes means the same sample), not positions in the local batch.
        temperature: t > 0 (0.1 as in fairseq-signals 3KG).
        z_all: ``(N, d)`` keys, the gathered global batch containing the local rows at
            ``anchor_offset``; None means ``z`` itself.
        indexes_all: ``(N,)`` indexes of ``z_all``; required with ``z_all``.
        anchor_offset: position of ``z[0]`` in ``z_all`` (its self-similarity is excluded).

    Computed in float32 (or float64 when given float64) with autocast off, via log-sum-exp.
    Raises ValueError on bad shapes, a non-positive temperature, or an anchor with no positive.
    """
    _check_temperature(temperature)
    if z.ndim != 2:
        raise ValueError(f"z must have shape (n, d), got {tuple(z.shape)}")
    if indexes.shape != (z.shape[0],):
        raise ValueError(f"indexes must have shape ({z.shape[0]},) matching z, got {tuple(indexes.shape)}")
    if indexes.dtype.is_floating_point or indexes.dtype.is_complex or indexes.dtype == torch.bool:
        raise ValueError(f"indexes must be an integer tensor, got {indexes.dtype}")
    if z_all is None:
        if indexes_all is not None or anchor_offset != 0:
            raise ValueError("indexes_all and anchor_offset are only meaningful together with z_all")
        z_all, indexes_all = z, indexes
    else:
        if indexes_all is None:
            raise ValueError("indexes_all is required when z_all is given")
        if z_all.ndim != 2 or z_all.shape[1] != z.shape[1]:
            raise ValueError(f"z_all must have shape (N, {z.shape[1]}), got {tuple(z_all.shape)}")
        if indexes_all.shape != (z_all.shape[0],):
            raise ValueError(
                f"indexes_all must have shape ({z_all.shape[0]},) matching z_all, got {tuple(indexes_all.shape)}"
            )
        if not 0 <= anchor_offset <= z_all.shape[0] - z.shape[0]:
            raise ValueError(
                f"anchor_offset {anchor_offset} places {z.shape[0]} anchors outside z_all of {z_all.shape[0]} rows"
            )
        if not torch.equal(indexes_all[anchor_offset : anchor_offset + z.shape[0]], indexes):
            raise ValueError("indexes_all[anchor_offset : anchor_offset + n] must equal indexes")
    n = z.shape[0]
    if n == 0:
        raise ValueError("z has no rows")
    dtype = torch.promote_types(z.dtype, torch.float32)
    with torch.autocast(device_type=z.device.type, enabled=False):
        if z_all is z and two_view_layout(indexes):
            # Row i's only positive is row i +- n/2 (two views of each recording stacked, as the
            # augmentation methods make them): no n x n masks, and a hand-written backward (see
            # _TwoViewNTXent). The same loss and gradients as the general form below, which the tests
            # check (tests/ssl/test_losses.py); about 1.5 ms less a step at n = 128 on a CPU.
            return cast(Tensor, _TwoViewNTXent.apply(z.to(dtype), temperature))
        anchors = F.normalize(z.to(dtype), dim=1)
        keys = F.normalize(z_all.to(dtype), dim=1)
        logits = anchors @ keys.T / temperature  # (n, N)
        rows = torch.arange(n, device=z.device)
        self_mask = torch.zeros_like(logits, dtype=torch.bool)
        self_mask[rows, rows + anchor_offset] = True
        positives = (indexes[:, None] == indexes_all[None, :].to(indexes.device)) & ~self_mask
        n_pos = positives.sum(dim=1)
        fewest, most = torch.stack(n_pos.aminmax()).tolist()  # one device sync for both checks
        if fewest == 0:
            lonely = indexes[n_pos == 0][:5].tolist()
            raise ValueError(
                f"{int((n_pos == 0).sum())} anchor(s) have no positive (no other row with the same index), "
                f"e.g. indexes {lonely}; every index must occur at least twice in the (gathered) batch"
            )
        logits = logits.masked_fill(self_mask, float("-inf"))
        if most == 1:
            # One positive per anchor (two views of each recording, the usual case): l_i is the
            # cross entropy of row i against its positive's column, which the fused op computes in
            # half the time of the general form below (same value; tests/ssl/test_losses.py).
            return F.cross_entropy(logits, positives.to(torch.uint8).argmax(dim=1))
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        per_anchor = -log_prob.masked_fill(~positives, 0.0).sum(dim=1) / n_pos
        return per_anchor.mean()


NORMALIZE_EPS = 1e-12
"""``F.normalize``'s default: rows shorter than this are divided by it instead of their norm."""


class _TwoViewNTXent(torch.autograd.Function):
    """NT-Xent of ``z`` (n, d) whose row i's only positive is row (i + n/2) mod n, with its gradient
    written out: one autograd node instead of the dozen of ``F.normalize``, a matmul, a division,
    a diagonal fill and ``F.cross_entropy``, whose per-node cost is most of the loss's time on a CPU.

    With a = z / max(|z|, eps) row-wise, s = a a^T / t (diagonal -inf), lse_i = logsumexp_j s_ij:
    loss = mean_i (lse_i - s_{i,p(i)}). Backward: G = (softmax(s) - Y) / n, Y the positives'
    one-hot; da = (G + G^T) a / t; dz = (da - a (a . da)) / |z| (dz = da / eps where clamped).
    """

    @staticmethod
    def forward(ctx: Any, z: Tensor, temperature: float) -> Tensor:
        n, half = z.shape[0], z.shape[0] // 2
        length = torch.linalg.vector_norm(z, dim=1, keepdim=True)
        denom = length.clamp_min(NORMALIZE_EPS)
        a = z / denom
        s = torch.mm(a, a.T).div_(temperature)
        s.fill_diagonal_(float("-inf"))
        lse = torch.logsumexp(s, dim=1)
        loss = (lse.sum() - s.diagonal(half).sum() - s.diagonal(-half).sum()) / n
        ctx.save_for_backward(a, denom, length >= NORMALIZE_EPS, s, lse)
        ctx.temperature = temperature
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        a, denom, unclamped, s, lse = ctx.saved_tensors
        n, half = a.shape[0], a.shape[0] // 2
        g = torch.sub(s, lse[:, None]).exp_()  # softmax of each row (0 on the diagonal)
        g.diagonal(half).sub_(1.0)
        g.diagonal(-half).sub_(1.0)
        g.mul_(grad / (n * ctx.temperature))
        da = torch.mm(g + g.T, a)
        along = (da * a).sum(dim=1, keepdim=True).mul_(unclamped)
        return (da - a * along) / denom, None


def two_view_layout(indexes: Tensor) -> bool:
    """Whether ``indexes`` (a CPU tensor) is ``u.repeat(2)`` with ``u`` distinct: two rows per id,
    the second half a copy of the first (read with NumPy: no device sync, a few microseconds)."""
    n = indexes.shape[0]
    if indexes.device.type != "cpu" or n % 2 or n == 0:
        return False
    ids = indexes.numpy()
    half = ids[: n // 2]
    return bool(np.array_equal(half, ids[n // 2 :])) and np.unique(half).size == half.size


class NTXentLoss(nn.Module):
    """:func:`nt_xent` as a module, optionally with negatives gathered from all processes.

    ``forward(z (n, d), indexes (n,)) -> scalar``. With ``gather_distributed=True`` and a
    torch.distributed world of W > 1 processes, the keys are the embeddings of all processes
    (gathered with gradients) and the returned local loss is

        L_r = (W / N) * sum_{anchors i on r} l_i       (N = global batch size)

    which equals the mean over local anchors when local batches are equal. Hence
    mean_r L_r = (1/N) sum_i l_i is the single-process loss on the whole batch (what a
    ``sync_dist=True`` mean logs), and DDP's gradient averaging, (1/W) sum_r dL_r/dtheta with the
    gather's backward summing gradients across processes, gives exactly the single-process
    gradient. Unequal local batch sizes are supported. BatchNorm layers still see local
    statistics unless converted to SyncBatchNorm (GPU only in torch).
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = False) -> None:
        super().__init__()
        _check_temperature(temperature)
        self.temperature = float(temperature)
        self.gather_distributed = bool(gather_distributed)

    def forward(self, z: Tensor, indexes: Tensor) -> Tensor:
        """``(n, d)`` embeddings and ``(n,)`` integer ids -> scalar loss (see the class docstring)."""
        if not (self.gather_distributed and is_distributed()):
            return nt_xent(z, indexes, self.temperature)
        sizes = gather_sizes(z.shape[0], z.device)
        z_all = gather_with_grad(z)
        indexes_all = gather_no_grad(indexes)
        offset = sum(sizes[: rank()])
        local_mean = nt_xent(
            z, indexes, self.temperature, z_all=z_all, indexes_all=indexes_all, anchor_offset=offset
        )
        return local_mean * (world_size() * z.shape[0] / sum(sizes))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"
