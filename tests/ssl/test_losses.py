"""NT-Xent: hand-computed values, SimCLR equivalence, invariances, validation, gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from threekg.ssl.losses import NTXentLoss, nt_xent


def _loop_nt_xent(z: torch.Tensor, idx: list[int], t: float) -> float:
    """The documented formula with explicit Python loops over floats."""
    rows = [[float(v) for v in r] for r in z]
    unit = [[v / math.sqrt(sum(w * w for w in r)) for v in r] for r in rows]
    n = len(rows)
    total = 0.0
    for i in range(n):
        sims = {a: sum(p * q for p, q in zip(unit[i], unit[a], strict=True)) / t for a in range(n) if a != i}
        denom = sum(math.exp(s) for s in sims.values())
        pos = [p for p in sims if idx[p] == idx[i]]
        total += -sum(math.log(math.exp(sims[p]) / denom) for p in pos) / len(pos)
    return total / n


def _simclr_reference(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """Textbook SimCLR NT-Xent (Chen et al. 2020): 2N views, cross-entropy against the partner."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / t
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def test_matches_hand_computed_multi_positive() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 3, generator=g, dtype=torch.float64)
    idx = [4, 4, 4, 9, 9, 2, 2]  # a triple, two pairs
    for t in (0.1, 0.5, 1.0):
        got = nt_xent(z, torch.tensor(idx), t)
        assert got.item() == pytest.approx(_loop_nt_xent(z, idx, t), rel=1e-12)


def test_equals_simclr_for_pairs() -> None:
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(2, 16, 8, generator=g)
    ids = torch.arange(16) * 3 + 7  # any distinct ids
    for t in (0.07, 0.1, 0.5):
        got = nt_xent(torch.cat([z1, z2]), torch.cat([ids, ids]), t)
        torch.testing.assert_close(got, _simclr_reference(z1, z2, t), rtol=1e-6, atol=1e-6)


def test_one_positive_per_anchor_matches_the_general_formula() -> None:
    """Pairs take the fused cross-entropy path: value against the loop formula, gradients by gradcheck,
    and the keys-from-other-processes form (z_all, anchor_offset) against the whole-batch loss."""
    g = torch.Generator().manual_seed(11)
    z = torch.randn(10, 4, generator=g, dtype=torch.float64, requires_grad=True)
    idx = [3, 8, 1, 5, 0, 8, 3, 0, 5, 1]  # pairs in shuffled positions
    for t in (0.1, 0.7):
        assert nt_xent(z, torch.tensor(idx), t).item() == pytest.approx(_loop_nt_xent(z.detach(), idx, t), rel=1e-12)
    assert torch.autograd.gradcheck(lambda x: nt_xent(x, torch.tensor(idx), 0.3), (z,))
    whole = nt_xent(z, torch.tensor(idx), 0.3)
    halves = [nt_xent(z[lo : lo + 5], torch.tensor(idx[lo : lo + 5]), 0.3, z_all=z,
                      indexes_all=torch.tensor(idx), anchor_offset=lo) for lo in (0, 5)]
    torch.testing.assert_close((halves[0] + halves[1]) / 2, whole, rtol=1e-12, atol=1e-12)


def test_row_permutation_invariance_and_scale_invariance() -> None:
    g = torch.Generator().manual_seed(2)
    z = torch.randn(12, 5, generator=g, dtype=torch.float64)
    idx = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 0])
    ref = nt_xent(z, idx)
    perm = torch.randperm(12, generator=g)
    torch.testing.assert_close(nt_xent(z[perm], idx[perm]), ref)
    scales = torch.rand(12, 1, generator=g, dtype=torch.float64) * 10 + 0.1
    torch.testing.assert_close(nt_xent(z * scales, idx), ref)  # cosine similarity


def test_perfect_alignment_gives_lower_loss_than_random() -> None:
    g = torch.Generator().manual_seed(3)
    base = torch.randn(8, 32, generator=g)
    ids = torch.arange(8)
    aligned = nt_xent(torch.cat([base, base]), torch.cat([ids, ids]))
    shuffled = nt_xent(torch.cat([base, base[torch.randperm(8, generator=g)]]), torch.cat([ids, ids]))
    assert aligned < shuffled


def test_z_all_with_offset_reconstructs_whole_batch_loss() -> None:
    g = torch.Generator().manual_seed(4)
    z = torch.randn(10, 4, generator=g, dtype=torch.float64)
    idx = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3, 4, 4])
    whole = nt_xent(z, idx)
    a = nt_xent(z[:4], idx[:4], z_all=z, indexes_all=idx, anchor_offset=0)
    b = nt_xent(z[4:], idx[4:], z_all=z, indexes_all=idx, anchor_offset=4)
    torch.testing.assert_close((4 * a + 6 * b) / 10, whole)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, float("nan"), float("inf"), True])
def test_temperature_validation(bad: float) -> None:
    z, idx = torch.randn(4, 3), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z, idx, bad)
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=bad)


def test_anchor_without_positive_is_an_error() -> None:
    with pytest.raises(ValueError, match="no positive"):
        nt_xent(torch.randn(5, 3), torch.tensor([0, 0, 1, 1, 2]))


@pytest.mark.parametrize(
    ("z", "idx", "kwargs", "match"),
    [
        (torch.randn(4, 3, 1), torch.tensor([0, 0, 1, 1]), {}, "z must have shape"),
        (torch.randn(4, 3), torch.tensor([0, 0, 1]), {}, "indexes must have shape"),
        (torch.randn(4, 3), torch.tensor([0.0, 0.0, 1.0, 1.0]), {}, "integer"),
        (torch.randn(2, 3), torch.tensor([0, 1]), {"z_all": torch.randn(4, 3)}, "indexes_all is required"),
        (torch.randn(2, 3), torch.tensor([0, 1]), {"anchor_offset": 1}, "only meaningful"),
        (
            torch.randn(2, 3),
            torch.tensor([0, 1]),
            {"z_all": torch.randn(4, 3), "indexes_all": torch.tensor([0, 1, 0, 1]), "anchor_offset": 3},
            "outside",
        ),
        (
            torch.randn(2, 3),
            torch.tensor([0, 1]),
            {"z_all": torch.randn(4, 3), "indexes_all": torch.tensor([0, 1, 0, 1]), "anchor_offset": 1},
            "must equal indexes",
        ),
        (
            torch.randn(2, 3),
            torch.tensor([0, 1]),
            {"z_all": torch.randn(4, 5), "indexes_all": torch.tensor([0, 1, 0, 1])},
            "z_all must have shape",
        ),
    ],
)
def test_argument_validation(z: torch.Tensor, idx: torch.Tensor, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nt_xent(z, idx, **kwargs)


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(5)
    z = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([0, 0, 0, 1, 1, 2])
    idx[5] = 1  # patient 1 has three views
    assert torch.autograd.gradcheck(lambda x: nt_xent(x, idx, 0.3), (z,))
    keys = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    idx_all = torch.tensor([0, 0, 0, 1, 1, 1, 7, 7, 7, 7])

    def with_keys(a: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return nt_xent(a, idx, 0.3, z_all=torch.cat([a, k]), indexes_all=idx_all, anchor_offset=0)

    assert torch.autograd.gradcheck(with_keys, (z, keys))


def test_low_precision_input_is_computed_in_float32() -> None:
    g = torch.Generator().manual_seed(6)
    z = torch.randn(8, 16, generator=g)
    idx = torch.arange(4).repeat(2)
    out = nt_xent(z.to(torch.bfloat16), idx)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, nt_xent(z.to(torch.bfloat16).float(), idx))


def test_module_without_process_group_equals_function() -> None:
    z, idx = torch.randn(6, 4), torch.tensor([1, 2, 3, 1, 2, 3])
    for gather in (False, True):
        loss = NTXentLoss(temperature=0.2, gather_distributed=gather)
        torch.testing.assert_close(loss(z, idx), nt_xent(z, idx, 0.2))
    assert "temperature=0.2" in repr(NTXentLoss(0.2))


def test_two_stacked_views_take_the_short_path_with_the_same_loss_and_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """ids = u.repeat(2) (the methods' layout: all first views, then all second views) skips the masks:
    value against the loop formula, gradients by gradcheck and against the masked general form."""
    import threekg.ssl.losses as losses

    g = torch.Generator().manual_seed(5)
    z = torch.randn(12, 4, generator=g, dtype=torch.float64, requires_grad=True)
    u = [7, 2, 9, 4, 11, 0]
    idx = torch.tensor(u + u)
    assert losses.two_view_layout(idx)
    assert not losses.two_view_layout(torch.tensor(u + u[::-1]))  # pairs, but not stacked halves
    assert not losses.two_view_layout(torch.tensor([1, 1, 1, 1]))  # ids repeated within a half
    assert not losses.two_view_layout(torch.tensor([1, 2, 1]))  # odd
    taken: list[bool] = []
    real = losses.two_view_layout
    monkeypatch.setattr(losses, "two_view_layout", lambda i: taken.append(real(i)) or taken[-1])
    for t in (0.1, 0.7):
        assert nt_xent(z, idx, t).item() == pytest.approx(_loop_nt_xent(z.detach(), u + u, t), rel=1e-12)
    assert taken == [True, True]
    assert torch.autograd.gradcheck(lambda x: nt_xent(x, idx, 0.3), (z,))
    short = torch.autograd.grad(nt_xent(z, idx, 0.3), z)[0]
    monkeypatch.setattr(losses, "two_view_layout", lambda i: False)  # force the masked form
    masked = torch.autograd.grad(nt_xent(z, idx, 0.3), z)[0]
    torch.testing.assert_close(short, masked, rtol=1e-12, atol=1e-14)


def test_two_view_short_path_gradient_with_a_zero_row_and_a_scaled_upstream_gradient(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand-written backward of the short path against autograd through the masked form: an
    all-zero row and one shorter than eps (F.normalize divides them by eps: no projection term), a
    row just above eps, a loss
    multiplied before backward, and float32."""
    import threekg.ssl.losses as losses

    g = torch.Generator().manual_seed(9)
    idx = torch.arange(5).repeat(2)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        base = torch.randn(10, 6, generator=g, dtype=torch.float64)
        base[3] = 0.0
        base[7] = base[7] / base[7].norm() * 5e-13  # below eps: divided by eps
        base[8] = base[8] / base[8].norm() * 2e-12  # just above
        grads = []
        for short in (True, False):
            monkeypatch.setattr(losses, "two_view_layout", lambda i, s=short: s)
            z = base.to(dtype).requires_grad_(True)
            (2.5 * nt_xent(z, idx, 0.2)).backward()
            assert z.grad is not None and torch.isfinite(z.grad).all()
            grads.append(z.grad)
        torch.testing.assert_close(grads[0], grads[1], rtol=tol, atol=tol)
