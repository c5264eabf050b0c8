"""Views on the device, batched: the 3KG heart-vector transform, time masks, the SimCLR set, segments.

Every augmentation is an ``nn.Module`` acting on (batch, 12, samples) on its own device:
``forward(x, generator=None, return_params=False)``; ``apply_with_params(module, x, params)`` replays it.
"""

from threekg.augment.base import Augmentation, Params, apply_with_params
from threekg.augment.compose import (
    AUGMENTATIONS,
    PIPELINES,
    THREEKG_STRENGTH,
    Compose,
    build_augmentation,
    build_pipeline,
)
from threekg.augment.noise import AmplitudeScale, BaselineWander, GaussianNoise, LeadMask, MainsNoise
from threekg.augment.spatial import ThreeKGSpatial, rotation_matrix, spatial_matrix, spatial_transform
from threekg.augment.temporal import (
    WINDOW_MODES,
    RandomCrop,
    TimeMask,
    crop,
    segment_pair,
    time_keep_mask,
    window_pair,
    window_span,
    window_starts,
)

__all__ = [
    "AUGMENTATIONS",
    "PIPELINES",
    "THREEKG_STRENGTH",
    "WINDOW_MODES",
    "AmplitudeScale",
    "Augmentation",
    "BaselineWander",
    "Compose",
    "GaussianNoise",
    "LeadMask",
    "MainsNoise",
    "Params",
    "RandomCrop",
    "ThreeKGSpatial",
    "TimeMask",
    "apply_with_params",
    "build_augmentation",
    "build_pipeline",
    "crop",
    "rotation_matrix",
    "segment_pair",
    "spatial_matrix",
    "spatial_transform",
    "time_keep_mask",
    "window_pair",
    "window_span",
    "window_starts",
]
