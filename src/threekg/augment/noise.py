"""The SimCLR-style ECG augmentation set (baseline): noise, amplitude, baseline wander, mains, lead masks.

Defaults follow the fairseq-signals (FS) perturbations where FS has one (its ``emg_noise``,
``baseline_wander``, ``powerline_noise`` and ``random_leads_masking``); amplitudes are in the
units of the batch (mV for prepared datasets). Each module documents its choice.
Bulk noise is drawn from a fresh generator seeded by one seed drawn from the caller's generator,
made on the batch's device; the params hold that seed, so replays are exact on the same device.
"""

from __future__ import annotations

import math

import torch

from threekg.augment.base import Augmentation, Params, draw_seed, normal, seeded_generator, uniform


def _time(n_samples: int, fs: float, x: torch.Tensor) -> torch.Tensor:
    return torch.arange(n_samples, device=x.device, dtype=torch.float64) / fs


class GaussianNoise(Augmentation):
    """Additive white Gaussian noise, a standard deviation per lead uniform in [0, sigma] (FS emg_noise).

    sigma: 0.05 mV - our choice; FS uses 0.5 on its normalised-amplitude data, which on mV input is half
    a QRS amplitude and swamps small waves.
    """

    name = "gaussian_noise"

    def __init__(self, sigma: float = 0.05) -> None:
        super().__init__(sigma=sigma)
        self.sigma = float(sigma)

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        return {
            "sigma": uniform(x.shape[:2], 0.0, self.sigma, generator, x.device),
            "seed": draw_seed(generator),
        }

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return self.apply_params_(x.clone(), params)

    def apply_params_(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        g = seeded_generator(params["seed"], x.device)
        noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
        return x.addcmul_(noise, params["sigma"].to(x.dtype).unsqueeze(-1))


class AmplitudeScale(Augmentation):
    """Multiply each ECG by one factor uniform in [low, high] (same on all leads, keeping lead relations).

    low, high: 0.5, 2.0 - our choice (a common SimCLR-ECG range; gain differences between devices).
    """

    name = "amplitude_scale"

    def __init__(self, low: float = 0.5, high: float = 2.0) -> None:
        super().__init__(low=low, high=high)
        if not 0 < low <= high:
            raise ValueError(f"amplitude_scale: need 0 < low <= high, got {low}, {high}")
        self.low, self.high = float(low), float(high)

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        return {"factor": uniform((x.shape[0],), self.low, self.high, generator, x.device)}

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return x * params["factor"].to(x.dtype).view(-1, 1, 1)

    def apply_params_(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return x.mul_(params["factor"].to(x.dtype).view(-1, 1, 1))


class BaselineWander(Augmentation):
    """Add k slow cosines (FS baseline_wander): sum_k a_k cos(2 pi f_k t + phi_k), lead gain ~ N(1, 0.5).

    fs: sampling rate in Hz (required). max_amplitude: 0.5 mV (FS). min_freq, max_freq: 0.01, 0.2 Hz (FS;
    respiration-like drift). k: 3 (FS). One wander per ECG, scaled per lead, as in FS.
    """

    name = "baseline_wander"
    needs_fs = True

    def __init__(
        self, fs: float, max_amplitude: float = 0.5, min_freq: float = 0.01, max_freq: float = 0.2, k: int = 3
    ) -> None:
        super().__init__(fs=fs, max_amplitude=max_amplitude, min_freq=min_freq, max_freq=max_freq, k=k)
        if fs <= 0 or not 0 <= min_freq <= max_freq < fs / 2:
            raise ValueError(
                f"baseline_wander: need fs > 0 and 0 <= min_freq <= max_freq < fs/2, got {self.options}"
            )
        self.fs, self.max_amplitude, self.min_freq, self.max_freq, self.k = (
            fs,
            max_amplitude,
            min_freq,
            max_freq,
            k,
        )

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        b, n_leads, dev = x.shape[0], x.shape[1], x.device
        return {
            "amplitude": uniform((b, self.k), 0.0, self.max_amplitude, generator, dev),
            "freq": uniform((b, self.k), self.min_freq, self.max_freq, generator, dev),
            "phase": uniform((b, self.k), 0.0, 2 * math.pi, generator, dev),
            "lead_gain": normal((b, n_leads), 1.0, 0.5, generator, dev),
        }

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        t = _time(x.shape[-1], self.fs, x)  # (T,)
        waves = params["amplitude"].unsqueeze(-1) * torch.cos(
            2 * math.pi * params["freq"].unsqueeze(-1) * t + params["phase"].unsqueeze(-1)
        )  # (B, k, T)
        wander = params["lead_gain"].unsqueeze(-1) * waves.sum(dim=1, keepdim=True)  # (B, L, T)
        return x + wander.to(x.dtype)


class MainsNoise(Augmentation):
    """Add mains interference a cos(2 pi f t + phi) with f 50 or 60 Hz (FS powerline_noise), same on all leads.

    fs: sampling rate in Hz (required; f must be below fs/2, so not usable at 100 Hz).
    max_amplitude: 0.5 mV (FS); amplitude uniform in [0, max_amplitude] per ECG.
    """

    name = "mains_noise"
    needs_fs = True

    def __init__(
        self, fs: float, max_amplitude: float = 0.5, freqs: tuple[float, ...] = (50.0, 60.0)
    ) -> None:
        super().__init__(fs=fs, max_amplitude=max_amplitude, freqs=tuple(freqs))
        if not freqs or max(freqs) >= fs / 2:
            raise ValueError(
                f"mains_noise: mains frequencies {tuple(freqs)} Hz must be below the Nyquist frequency "
                f"{fs / 2} Hz (fs={fs}); at this rate mains interference cannot be represented"
            )
        self.fs, self.max_amplitude = fs, max_amplitude
        self.freqs = torch.tensor(freqs, dtype=torch.float64)

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        b, dev = x.shape[0], x.device
        pick = (
            (uniform((b,), 0.0, 1.0, generator, dev) * len(self.freqs)).long().clamp_max(len(self.freqs) - 1)
        )
        return {
            "amplitude": uniform((b,), 0.0, self.max_amplitude, generator, dev),
            "freq": self.freqs.to(dev)[pick],
            "phase": uniform((b,), 0.0, 2 * math.pi, generator, dev),
        }

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        t = _time(x.shape[-1], self.fs, x)
        wave = params["amplitude"].unsqueeze(-1) * torch.cos(
            2 * math.pi * params["freq"].unsqueeze(-1) * t + params["phase"].unsqueeze(-1)
        )
        return x + wave.to(x.dtype).unsqueeze(1)


class LeadMask(Augmentation):
    """Zero whole leads, each independently with probability p (FS random_leads_masking).

    p: 0.5 (FS default ``mask_leads_prob``).
    """

    name = "lead_mask"

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"lead_mask: p must be in [0, 1], got {p}")
        self.p = float(p)

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        return {"masked": uniform(x.shape[:2], 0.0, 1.0, generator, x.device) < self.p}

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return x * (~params["masked"]).to(x.dtype).unsqueeze(-1)

    def apply_params_(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return x.mul_((~params["masked"]).to(x.dtype).unsqueeze(-1))
