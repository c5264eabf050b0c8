"""The fused 3KG view (one compiled pass) equals the two torch modules applied one after the other."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from threekg.augment import build_pipeline
from threekg.augment.fused import fused_available, spatial_time_mask
from threekg.augment.fused import run_kernel as fused_run_kernel
from threekg.augment.spatial import ThreeKGSpatial
from threekg.augment.temporal import TimeMask, mask_length, time_mask_positions

CASES = {
    "3kg": [{"name": "threekg_spatial"}, {"name": "time_mask", "ratio": 0.5}],
    "residual": [{"name": "threekg_spatial", "residual": True}, {"name": "time_mask", "ratio": 0.5}],
    "kors-axis-order": [{"name": "threekg_spatial", "matrix": "kors", "random_axis_order": True,
                         "scale_low": 0.6}, {"name": "time_mask", "ratio": 0.3}],
    "same-window": [{"name": "threekg_spatial"}, {"name": "time_mask", "ratio": 0.5, "same_for_all_leads": True}],
    "no-mask": [{"name": "threekg_spatial"}, {"name": "time_mask", "ratio": 0.0}],
    "all-masked": [{"name": "threekg_spatial"}, {"name": "time_mask", "ratio": 1.0}],
}


def _unfused(pipe: torch.nn.Module, x: torch.Tensor, params: dict, monkeypatch: pytest.MonkeyPatch) -> torch.Tensor:
    with monkeypatch.context() as m:
        m.setenv("THREEKG_FUSED", "0")
        assert not fused_available(x)
        return pipe.apply_params(x, params)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_equals_the_two_modules(case: str, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(7, 12, 301, generator=torch.Generator().manual_seed(1), dtype=dtype)  # odd T
    before = x.clone()
    pipe = build_pipeline(CASES[case])
    assert fused_available(x)
    y, params = pipe(x, generator=torch.Generator().manual_seed(2), return_params=True)
    ref = _unfused(pipe, x, params, monkeypatch)
    assert torch.equal(x, before)  # input untouched
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(y, ref, atol=tol, rtol=tol)
    assert torch.equal(pipe.apply_params(x, params), y)  # replay through the fused path is exact
    masked = time_mask_positions(params["1.starts"], mask_length(CASES[case][1]["ratio"], 301), 301)
    assert bool((y[masked] == 0).all())  # masked samples are exact zeros, kept ones are not
    assert bool((y[~masked] != 0).all())


def test_fused_direct_call_and_non_contiguous_input() -> None:
    base = torch.randn(4, 301, 12, generator=torch.Generator().manual_seed(3))
    x = base.transpose(1, 2)  # (4, 12, 301), not contiguous
    spatial, mask = ThreeKGSpatial(), TimeMask(0.5)
    g = torch.Generator().manual_seed(4)
    sp, mp = spatial.sample_params(x, g), mask.sample_params(x, g)
    y = spatial_time_mask(x, spatial, sp, mask, mp)
    ref = mask.apply_params(spatial.apply_params(x.contiguous(), sp), mp)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


def test_fallback_cases() -> None:
    x = torch.randn(2, 12, 50)
    assert fused_available(x)
    assert not fused_available(x.half())
    assert not fused_available(x.clone().requires_grad_())
    assert not fused_available(torch.randn(2, 8, 50))
    pipe = build_pipeline("3kg")
    xg = x.clone().requires_grad_()
    y = pipe(xg, generator=torch.Generator().manual_seed(0))
    assert y.requires_grad  # the torch path keeps the graph


def test_nan_in_a_read_lead_reaches_the_output_and_derived_leads_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(3, 12, 200, generator=torch.Generator().manual_seed(5))
    x[0, 1, 50] = float("nan")  # lead II: read by the transform
    x[1, 4, 60] = float("inf")  # aVL: re-derived from I and II, never read
    pipe = build_pipeline([{"name": "threekg_spatial"}, {"name": "time_mask", "ratio": 0.0}])
    y, params = pipe(x, generator=torch.Generator().manual_seed(6), return_params=True)
    assert bool(torch.isnan(y[0, :, 50]).all())  # every lead at that sample, as with torch's matmul
    assert bool(torch.isfinite(y[0, :, :50]).all())
    assert bool(torch.isfinite(y[1]).all())  # the damaged derived lead does not reach the view
    ref = _unfused(pipe, x, params, monkeypatch)
    assert bool(torch.isnan(ref[0, :, 50]).all())


def test_fused_replay_checks_the_parameters_like_the_torch_path() -> None:
    pipe = build_pipeline(CASES["kors-axis-order"])
    x = torch.randn(2, 12, 100)
    _, params = pipe(x, generator=torch.Generator().manual_seed(7), return_params=True)
    params["0.axis_order"] = torch.tensor([[0, 0, 1], [2, 1, 0]])  # not a permutation
    with pytest.raises(ValueError, match="permutations"):
        pipe.apply_params(x, params)


def test_a_failing_kernel_falls_back_to_the_torch_path(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    import numba

    from threekg.augment import fused

    def broken(*args: object) -> None:
        raise numba.core.errors.TypingError("simulated compiler failure")

    monkeypatch.setattr(fused, "_broken", [])
    monkeypatch.setattr(fused, "_kernel", lambda: broken)
    pipe = build_pipeline("3kg")
    x = torch.randn(3, 12, 80)
    y, params = pipe(x, generator=torch.Generator().manual_seed(8), return_params=True)
    assert "switched off" in caplog.text and "simulated compiler failure" in caplog.text
    assert not fused.fused_available(x)
    torch.testing.assert_close(y, _unfused(pipe, x, params, monkeypatch))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("options", [{}, {"residual": True}, {"matrix": "kors", "random_axis_order": True}])
def test_public_spatial_transform_takes_the_kernel_on_the_cpu_and_agrees_with_the_matmul(
    dtype: torch.dtype, options: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threekg.augment import fused, spatial_transform

    x = torch.randn(5, 12, 257, generator=torch.Generator().manual_seed(9), dtype=dtype)
    module = ThreeKGSpatial(**options)
    p = module.sample_params(x, torch.Generator().manual_seed(10))
    args = (p["angles"], p["scales"], module.residual, module.matrix, p.get("axis_order"))
    calls: list[int] = []
    monkeypatch.setattr(fused, "run_kernel", lambda *a: calls.append(1) or fused_run_kernel(*a))
    y = spatial_transform(x, *args)
    assert calls == [1], "a CPU tensor must take the compiled pass"
    with monkeypatch.context() as m:
        m.setenv("THREEKG_FUSED", "0")
        ref = spatial_transform(x, *args)  # one batched 12 x 12 matmul
    assert calls == [1] and y.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(y, ref, atol=tol, rtol=tol)
    y_np = spatial_transform(x.numpy(), *(a.numpy() if isinstance(a, torch.Tensor) else a for a in args))
    assert isinstance(y_np, np.ndarray) and calls == [1, 1]  # NumPy input: the same pass, NumPy out
    np.testing.assert_array_equal(y_np, y.numpy())


@pytest.mark.parametrize("spec", ["3kg", "3kg-paper", "3kg-residual", "3kg-kors", "3kg-temporal", "simclr",
                                  [{"name": "threekg_spatial", "random_axis_order": True}, {"name": "time_mask"}]])
def test_concat_is_the_loop_bit_for_bit(spec: str | list[dict[str, object]]) -> None:
    """``Compose.concat`` (one compiled pass over both windows for 3KG) equals concatenating one call per
    batch with the same generator: same draws in the same order, same values."""
    pipeline = build_pipeline(spec, fs=100.0)
    x = torch.randn(5, 12, 2 * 160, generator=torch.Generator().manual_seed(3))
    halves = [x[..., :160], x[..., 160:]]  # strided views, as the two windows of a batch
    g = torch.Generator().manual_seed(9)
    loop = torch.cat([pipeline(h, generator=g) for h in halves])
    got = pipeline.concat(halves, generator=torch.Generator().manual_seed(9))
    assert torch.equal(got, loop)
    assert torch.equal(pipeline.concat(halves[:1], generator=torch.Generator().manual_seed(9)),
                       pipeline(halves[0], generator=torch.Generator().manual_seed(9)))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fused_on", ["1", "0"])
@pytest.mark.parametrize("spec", ["3kg", "3kg-residual", "simclr"])
def test_windows_is_concat_of_the_slices_bit_for_bit(spec: str, fused_on: str, threads: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``Compose.windows`` reads the windows in place; the result is ``concat`` of the slices, to the bit,
    on the compiled pass (split over threads) and on the torch path."""
    monkeypatch.setenv("THREEKG_FUSED", fused_on)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        pipeline = build_pipeline(spec, fs=100.0)
        x = torch.randn(7, 12, 3 * 90, generator=torch.Generator().manual_seed(4))
        for n in (1, 2, 3):
            v = x.shape[-1] // n if n != 2 else 120
            xn = x[..., : n * v]
            parts = [xn[..., k * v : (k + 1) * v] for k in range(n)]
            want = pipeline.concat(parts, generator=torch.Generator().manual_seed(8))
            got = pipeline.windows(xn, n, generator=torch.Generator().manual_seed(8))
            assert got.shape == (n * 7, 12, v) and torch.equal(got, want)
        with pytest.raises(ValueError, match="equal windows"):
            pipeline.windows(x[..., :91], 2)
    finally:
        torch.set_num_threads(before)
