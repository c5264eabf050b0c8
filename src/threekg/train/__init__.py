"""The pretraining engine: configuration presets, data loading, the Lightning module, run directories.

``threekg.train.pretrain(data_dir, method, out, preset="cpu-small", overrides=[...]) -> Path``.
"""

from threekg.train.config import ConfigError, list_presets, resolve_config
from threekg.train.module import DivergedLossError, NonFiniteInputError, NonFiniteLossError, PretrainModule
from threekg.train.run import RunDirError, find_checkpoint, pretrain

__all__ = [
    "ConfigError",
    "DivergedLossError",
    "NonFiniteInputError",
    "NonFiniteLossError",
    "PretrainModule",
    "RunDirError",
    "find_checkpoint",
    "list_presets",
    "pretrain",
    "resolve_config",
]
