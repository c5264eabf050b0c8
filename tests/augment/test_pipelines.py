"""Every registered augmentation: generator reproducibility, params replay, pipelines from data."""

from __future__ import annotations

import math

import pytest
import torch

from threekg.augment import (
    AUGMENTATIONS,
    PIPELINES,
    BaselineWander,
    GaussianNoise,
    LeadMask,
    MainsNoise,
    apply_with_params,
    build_augmentation,
    build_pipeline,
)

FS = 250.0


def _batch(b: int = 8, t: int = 500) -> torch.Tensor:
    return torch.randn(b, 12, t, generator=torch.Generator().manual_seed(123))


def _build(name: str) -> torch.nn.Module:
    return build_augmentation({"name": name, **({"length": 200} if name == "random_crop" else {})}, fs=FS)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_same_seed_same_output_and_params_replay(name: str) -> None:
    aug, x = _build(name), _batch()
    y1, p1 = aug(x, generator=torch.Generator().manual_seed(7), return_params=True)
    y2 = aug(x, generator=torch.Generator().manual_seed(7))
    y3 = aug(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(y1, y2)
    assert not torch.equal(y1, y3)
    assert torch.equal(apply_with_params(aug, x, p1), y1)
    assert y1.dtype == x.dtype and not torch.equal(y1, x[..., : y1.shape[-1]])


@pytest.mark.parametrize("preset", sorted(PIPELINES))
def test_presets_build_run_and_replay(preset: str) -> None:
    pipe, x = build_pipeline(preset, fs=FS), _batch()
    y, p = pipe(x, generator=torch.Generator().manual_seed(0), return_params=True)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.equal(pipe.apply_params(x, p), y)
    assert build_pipeline(pipe.spec(), fs=FS).spec() == pipe.spec()


def test_pipeline_from_yaml_and_errors() -> None:
    pipe = build_pipeline("- name: threekg_spatial\n  angle: 10\n- name: time_mask\n  ratio: 0.25\n")
    assert pipe.spec()[0]["angle"] == 10 and pipe.spec()[1]["ratio"] == 0.25
    assert build_pipeline("3kg").spec() == build_pipeline(PIPELINES["3kg"]).spec()
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        build_pipeline([{"name": "rotate"}])
    with pytest.raises(ValueError, match="needs the sampling rate"):
        build_pipeline("simclr")
    with pytest.raises(ValueError, match="bad options"):
        build_pipeline([{"name": "time_mask", "fraction": 0.5}])
    with pytest.raises(ValueError, match="Nyquist"):
        MainsNoise(fs=100)


def test_gaussian_noise_has_the_drawn_per_lead_sigma() -> None:
    x = torch.zeros(4, 12, 20000)
    y, p = GaussianNoise(sigma=0.2)(x, generator=torch.Generator().manual_seed(0), return_params=True)
    torch.testing.assert_close(y.std(dim=-1), p["sigma"].float(), atol=0.01, rtol=0.03)


def test_mains_noise_is_a_50_or_60_hz_line() -> None:
    x = torch.zeros(6, 12, 1000, dtype=torch.float64)
    y, p = MainsNoise(fs=500.0)(x, generator=torch.Generator().manual_seed(0), return_params=True)
    spectrum = torch.fft.rfft(y[:, 0]).abs()
    peak_hz = spectrum.argmax(dim=-1).double() * 500.0 / 1000
    torch.testing.assert_close(peak_hz, p["freq"])
    assert set(p["freq"].tolist()) <= {50.0, 60.0}
    peak = y.amax(dim=(1, 2))  # >= 10 samples per cycle: the sampled peak is within cos(pi/10) of a
    assert torch.all(peak <= p["amplitude"] + 1e-12) and torch.all(peak >= 0.95 * p["amplitude"])
    assert torch.all(y == y[:, :1])  # same on all leads


def test_baseline_wander_is_slow() -> None:
    x = torch.zeros(4, 12, 5000, dtype=torch.float64)
    y = BaselineWander(fs=500.0)(x, generator=torch.Generator().manual_seed(0))
    spectrum = torch.fft.rfft(y, dim=-1).abs() ** 2
    low = spectrum[..., : math.ceil(0.5 * 10) + 1].sum()  # below 0.5 Hz (10 s record: 0.1 Hz bins)
    assert low / spectrum.sum() > 0.9


def test_lead_mask_zeroes_whole_leads_with_probability_p() -> None:
    x = torch.ones(400, 12, 10)
    y, p = LeadMask(p=0.3)(x, generator=torch.Generator().manual_seed(0), return_params=True)
    assert torch.equal(y.amax(dim=-1) == 0, p["masked"])
    assert abs(p["masked"].float().mean().item() - 0.3) < 0.03


def test_generator_device_draws_moved_to_batch_device_and_float64() -> None:
    x = _batch().double()
    y, p = build_pipeline("3kg")(x, generator=torch.Generator().manual_seed(0), return_params=True)
    assert y.dtype == torch.float64
    y32 = build_pipeline("3kg").apply_params(x.float(), p)
    torch.testing.assert_close(y32, y.float(), atol=1e-5, rtol=1e-5)
