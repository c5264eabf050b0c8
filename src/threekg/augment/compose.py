"""Pipelines of augmentations built from data: a registry, ``Compose``, ``build_pipeline`` and presets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import torch
import yaml

from threekg.augment.base import Augmentation, Params, check_batch
from threekg.augment.fused import fused_available, spatial_time_mask
from threekg.augment.noise import AmplitudeScale, BaselineWander, GaussianNoise, LeadMask, MainsNoise
from threekg.augment.spatial import ThreeKGSpatial
from threekg.augment.temporal import RandomCrop, TimeMask

AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.name: cls
    for cls in (
        ThreeKGSpatial,
        TimeMask,
        RandomCrop,
        GaussianNoise,
        AmplitudeScale,
        BaselineWander,
        MainsNoise,
        LeadMask,
    )
}
"""Augmentation classes by registry name (the ``name`` key of a pipeline spec)."""

THREEKG_STRENGTH: dict[str, float] = {"angle": 15.0, "scale": 1.2}
"""Rotation (degrees about each axis) and scaling ceiling of the ``3kg`` family's pipelines.

The paper uses +-45 deg and [1, 1.5] (``ThreeKGSpatial``'s own defaults, kept in ``3kg-paper``). On
the 500 real PTB-XL recordings the milder 15 deg / 1.2 gave the higher linear-probe AUROC (study
``ptbxl-500-recipe``, docs/results.md), so it is threekg's default: a deviation from the paper."""

_MILD = {"name": "threekg_spatial", **THREEKG_STRENGTH}

PIPELINES: dict[str, list[dict[str, Any]]] = {
    # FS semantics (method.md section 2): spatial then a 50% time mask per lead.
    "3kg": [dict(_MILD), {"name": "time_mask", "ratio": 0.5}],
    # the paper's strengths (+-45 deg, scale [1, 1.5]); the `3kg-paper` method also keeps its views
    # time-aligned (windows="same")
    "3kg-paper": [{"name": "threekg_spatial"}, {"name": "time_mask", "ratio": 0.5}],
    "3kg-paper-spatial": [{"name": "threekg_spatial"}],
    "3kg-spatial": [dict(_MILD)],
    "3kg-temporal": [{"name": "time_mask", "ratio": 0.5}],
    "3kg-rotation": [{**_MILD, "scaling": False}, {"name": "time_mask", "ratio": 0.5}],
    "3kg-scaling": [{**_MILD, "rotation": False}, {"name": "time_mask", "ratio": 0.5}],
    "3kg-residual": [{**_MILD, "residual": True}, {"name": "time_mask", "ratio": 0.5}],
    "3kg-kors": [{**_MILD, "matrix": "kors"}, {"name": "time_mask", "ratio": 0.5}],
    # SimCLR baseline (method.md section 4: noise, amplitude scaling, crop, baseline wander, lead masking).
    # The crop is the data loader's random window; add {"name": "random_crop", "length": N} for a shorter one.
    "simclr": [
        {"name": "amplitude_scale"},
        {"name": "baseline_wander"},
        {"name": "gaussian_noise"},
        {"name": "lead_mask", "p": 0.5},
    ],
}
"""Named pipeline specs; build one with ``build_pipeline(name_or_spec, fs=...)``."""


class Compose(Augmentation):
    """Apply augmentations in order; params are the members' params with keys prefixed ``"<i>."``."""

    name = "compose"

    def __init__(self, augmentations: Iterable[Augmentation]) -> None:
        super().__init__()
        self.augmentations = torch.nn.ModuleList(augmentations)
        needs_12 = [a.n_leads for a in self.members if a.n_leads is not None]
        self.n_leads = needs_12[0] if needs_12 else None

    @property
    def members(self) -> list[Augmentation]:
        """The augmentations, in order."""
        return [a for a in self.augmentations if isinstance(a, Augmentation)]

    def extra_repr(self) -> str:
        return ""

    def sample_params(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        raise RuntimeError(
            "compose: parameters depend on earlier outputs; use forward(..., return_params=True)"
        )

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None, return_params: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, Params]:
        """Run every member on ``x`` (B, L, T) in order, drawing from the same ``generator``."""
        params: Params = {}

        def draw(i: int, aug: Augmentation, current: torch.Tensor) -> Params:
            p = aug.sample_params(current, generator)
            params.update({f"{i}.{k}": v for k, v in p.items()})
            return p

        x = self._run(x, draw)
        return (x, params) if return_params else x

    def concat(self, xs: Sequence[torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """``torch.cat([self(x, generator=generator) for x in xs])``, the same tensor bit for bit.

        For a 3KG pipeline (``threekg_spatial`` then ``time_mask``) on the CPU, the parameters are
        drawn batch after batch in that same order and all batches go through one compiled pass:
        the per-call set-up, the copies and the concatenation of a loop are paid once.
        """
        drawn = self._draw_fused(xs, generator)
        if drawn is None:
            return torch.cat([cast(torch.Tensor, self(x, generator=generator)) for x in xs])
        spatial, mask = cast(tuple[ThreeKGSpatial, TimeMask], tuple(self.members))
        return spatial_time_mask(torch.cat(list(xs)), spatial, drawn[0], mask, drawn[1])

    def windows(self, x: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The views of ``n`` windows laid end to end: ``x`` (B, L, n V) -> (n B, L, V).

        ``self.concat([x[..., k V : (k + 1) V] for k in range(n)])``, the same tensor bit for bit; the
        3KG pass reads the windows where they lie, without a concatenated copy (this is how
        :class:`threekg.ssl.methods.AugmentationMethod` makes the views of its two windows).
        """
        if n < 1 or x.ndim != 3 or x.shape[-1] % n:
            raise ValueError(f"windows: cannot cut {n} equal windows from a batch of shape {tuple(x.shape)}")
        v = x.shape[-1] // n
        parts = [x[..., k * v : (k + 1) * v] for k in range(n)]
        drawn = self._draw_fused(parts, generator)
        if drawn is None:
            return torch.cat([cast(torch.Tensor, self(p, generator=generator)) for p in parts])
        spatial, mask = cast(tuple[ThreeKGSpatial, TimeMask], tuple(self.members))
        return spatial_time_mask(x, spatial, drawn[0], mask, drawn[1], windows=n)

    def _draw_fused(self, xs: Sequence[torch.Tensor], generator: torch.Generator | None) -> tuple[Params, Params] | None:
        """For a 3KG pipeline whose batches ``xs`` can take the compiled pass, the spatial and mask
        parameters of all of them, drawn in the loop's order (spatial, then mask, batch after batch)
        and concatenated; None otherwise (the caller loops)."""
        members = self.members
        spatial, mask = members if len(members) == 2 else (None, None)
        if not (xs and isinstance(spatial, ThreeKGSpatial) and isinstance(mask, TimeMask)
                and all(fused_available(x) and x.shape[1:] == xs[0].shape[1:] and x.dtype == xs[0].dtype for x in xs)):
            return None
        drawn: list[tuple[Params, Params]] = []
        for x in xs:
            check_batch(x, spatial.name, spatial.n_leads)
            drawn.append((spatial.sample_params(x, generator), mask.sample_params(x, generator)))
        return ({k: torch.cat([d[0][k] for d in drawn]) for k in drawn[0][0]},
                {k: torch.cat([d[1][k] for d in drawn]) for k in drawn[0][1]})

    def apply_params(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        def given(i: int, aug: Augmentation, current: torch.Tensor) -> Params:
            prefix = f"{i}."
            return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}

        return self._run(x, given)

    def _run(self, x: torch.Tensor, params_of: Callable[[int, Augmentation, torch.Tensor], Params]) -> torch.Tensor:
        """Apply the members in order, with ``params_of(i, member, input)`` giving each one's parameters.

        A ``threekg_spatial`` directly followed by a ``time_mask`` runs as one fused pass
        (:mod:`threekg.augment.fused`); the parameters, and so the output, are those of the two modules.
        """
        members = self.members
        i = 0
        while i < len(members):
            aug = members[i]
            check_batch(x, aug.name, aug.n_leads)
            p = params_of(i, aug, x)
            nxt = members[i + 1] if i + 1 < len(members) else None
            if isinstance(aug, ThreeKGSpatial) and isinstance(nxt, TimeMask):
                # The mask sees the same shape and device after the spatial map, so it can draw now.
                x = spatial_time_mask(x, aug, p, nxt, params_of(i + 1, nxt, x))
                i += 2
                continue
            # Every member returns a new tensor, so after the first one x is ours to overwrite.
            x = aug.apply_params(x, p) if i == 0 else aug.apply_params_(x, p)
            i += 1
        return x

    def spec(self) -> list[dict[str, Any]]:
        """The list-of-dicts spec that rebuilds this pipeline."""
        return [{"name": a.name, **a.options} for a in self.members]


def build_augmentation(entry: Mapping[str, Any], fs: float | None = None) -> Augmentation:
    """One augmentation from ``{"name": ..., **options}``; ``fs`` (Hz) fills in ``fs`` where needed."""
    options = dict(entry)
    name = options.pop("name", None)
    if name not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {name!r} in {dict(entry)}; choose one of {sorted(AUGMENTATIONS)}"
        )
    cls = AUGMENTATIONS[name]
    if getattr(cls, "needs_fs", False) and "fs" not in options:
        if fs is None:
            raise ValueError(f"augmentation {name!r} needs the sampling rate: pass fs=... to build_pipeline")
        options["fs"] = fs
    try:
        return cls(**options)
    except TypeError as err:
        raise ValueError(f"augmentation {name!r}: bad options {options}: {err}") from None


def build_pipeline(spec: str | Sequence[Mapping[str, Any]], fs: float | None = None) -> Compose:
    """A :class:`Compose` from a preset name (see :data:`PIPELINES`), a YAML string, or a list of dicts.

    Example: ``build_pipeline([{"name": "threekg_spatial", "angle": 45}, {"name": "time_mask"}])`` or
    ``build_pipeline("- name: time_mask\\n  ratio: 0.25")``.
    """
    if isinstance(spec, str):
        if spec in PIPELINES:
            spec = PIPELINES[spec]
        else:
            loaded = yaml.safe_load(spec)
            if isinstance(loaded, str) and loaded in PIPELINES:
                loaded = PIPELINES[loaded]
            if isinstance(loaded, Mapping) and "pipeline" in loaded:
                loaded = loaded["pipeline"]
            if not isinstance(loaded, list) or not all(isinstance(e, Mapping) for e in loaded):
                raise ValueError(
                    f"pipeline spec must be a preset name {sorted(PIPELINES)} or a YAML list of "
                    f"{{name: ..., option: ...}} mappings, got {spec!r}"
                )
            spec = loaded
    return Compose(build_augmentation(entry, fs=fs) for entry in spec)
