"""Contrastive pretraining methods: how to make the views of a batch and which rows are positives.

A method turns a loaded batch (see :class:`threekg.train.data.CropDataset`) into
``views (n_views x B, 12, view_samples)`` and ``indexes (n_views x B,)`` int64 for the
multi-positive NT-Xent loss (rows with the same index are positives). It runs on the batch's
device, drawing every random number from the ``torch.Generator`` it is given.

Built-in methods (``METHODS``):

* ``3kg`` and the ablations ``3kg-spatial``, ``3kg-temporal``, ``3kg-rotation``, ``3kg-scaling``,
  ``3kg-residual``, ``3kg-kors``: two views of ``threekg.augment.PIPELINES[name]``; positives are
  the two views of one recording, or (``patient_positives=True``, as in fairseq-signals) every
  view of the same patient. By default the two views are cut from two windows of the recording
  at least one view apart (``windows="random"``); the paper cuts both from one window
  (``windows="same"``), which lets the encoder match views by beat timing (docs/pretrain.md).
  The family rotates by up to 15 deg and scales by up to 1.2 (``threekg.augment.THREEKG_STRENGTH``),
  milder than the paper's 45 deg / 1.5, which did worse on real labels (docs/results.md).
* ``3kg-paper``: the paper's recipe exactly: 45 deg / 1.5 and both views from one window.
* ``simclr``: two views of ``PIPELINES["simclr"]`` (noise, amplitude scale, baseline wander,
  lead mask; the crop is the loader's random window).
* ``cmsc`` (CLOCS): the loader reads a crop of twice the view length; the views are its two
  adjacent non-overlapping halves (``segment_pair``, random split point), no augmentation.
* ``pclr``: the loader pairs each recording with a random *other* recording of the same patient;
  positives are every recording of the same patient in the batch, no augmentation. A recording
  whose patient has no other recording is paired with an independent random crop of itself
  (a time-shift positive; identical views when the crop covers the whole recording); when that
  holds for every patient, PCLR degenerates into that and a warning says so.

Add a method with ``@register_method("name")`` on a factory ``(fs, **options) -> Method``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

Batch = dict[str, Tensor]
log = logging.getLogger(__name__)

DEFAULT_WINDOWS = "random"
"""Default ``windows`` of the augmentation methods (see :class:`AugmentationMethod`): two windows at
least one view apart, chosen by the ``ptbxl-500`` study (docs/results.md). The paper's recipe is
``same``."""


class Method:
    """Base class. ``crop_factor``: the loader crops ``crop_factor x view_samples`` samples;
    ``paired``: the loader also returns ``x2``, another recording of the same patient."""

    name: str = "method"
    crop_factor: int = 1
    paired: bool = False

    def loader_samples(self, view_samples: int, record_samples: int) -> int:
        """Samples the loader must read per recording for views of ``view_samples``.

        Called once by the training engine before the first batch; the default is
        ``crop_factor x view_samples``. Raises ValueError when the recordings are too short.
        """
        need = view_samples * self.crop_factor
        if need > record_samples:
            raise ValueError(f"{self.name}: needs {need} samples per recording, the recordings have {record_samples}")
        return need

    def loader_windows(self) -> tuple[str, int, int] | None:
        """``(mode, view_samples, min_offset)`` when the loader must read two windows per recording
        (``threekg.train.data.CropDataset(windows=...)``), after :meth:`loader_samples`; else None."""
        return None

    def modules(self) -> list[nn.Module]:
        """Modules holding buffers that must follow the batch to its device."""
        return []

    def to(self, device: torch.device) -> Method:
        """Move the method's modules (augmentation matrices) to ``device``."""
        for m in self.modules():
            m.to(device)
        return self

    def make_views(self, batch: Batch, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``batch["x"]`` (B, 12, crop) mV -> views (V*B, 12, T) and indexes (V*B,) int64."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for logs and the encoder metadata."""
        return self.name


class AugmentationMethod(Method):
    """``n_views`` independent draws of an augmentation pipeline per recording.

    Args:
        name: the method name (also the default pipeline preset name).
        fs: sampling rate in Hz (some augmentations need it).
        pipeline: a ``threekg.augment.PIPELINES`` name or a list-of-dicts spec; default ``name``.
        patient_positives: views of recordings of the same patient are positives too.
        n_views: views per recording (2 as in the paper).
        windows: where the views are cut from (``threekg.augment.window_pair``): ``same`` - one
            window for both views, the paper's recipe; ``adjacent`` - two adjacent non-overlapping
            windows; ``random`` - two independent windows whose starts are at least
            ``min_offset_seconds`` apart. With ``same`` the two views share the timing of every
            beat, which the encoder can match on instead of learning the waveform (docs/pretrain.md).
        min_offset_seconds: ``random`` only: the smallest distance between the two windows' starts;
            None (default): one view length, so the windows never overlap (reduced, with a warning,
            to what the recordings allow when they are shorter than two views).
    """

    def __init__(
        self,
        name: str,
        fs: float,
        pipeline: str | list[dict[str, Any]] | None = None,
        patient_positives: bool = False,
        n_views: int = 2,
        windows: str = DEFAULT_WINDOWS,
        min_offset_seconds: float | None = None,
    ) -> None:
        from threekg.augment import WINDOW_MODES, build_pipeline

        if n_views < 2:
            raise ValueError(f"method {name!r}: n_views must be >= 2, got {n_views}")
        if windows not in WINDOW_MODES:
            raise ValueError(f"method {name!r}: windows must be one of {list(WINDOW_MODES)}, got {windows!r}")
        if windows != "same" and n_views != 2:
            raise ValueError(f"method {name!r}: windows={windows!r} makes exactly 2 views, got n_views={n_views}")
        if min_offset_seconds is not None and (min_offset_seconds < 0 or windows != "random"):
            raise ValueError(f"method {name!r}: min_offset_seconds must be >= 0 and is used by windows='random' "
                             f"only, got {min_offset_seconds} with windows={windows!r}")
        self.name = name
        self.pipeline_spec = name if pipeline is None else pipeline
        self.pipeline = build_pipeline(self.pipeline_spec, fs=fs)
        self.patient_positives = bool(patient_positives)
        self.n_views = n_views
        self.windows = windows
        self.min_offset_seconds = min_offset_seconds
        self.min_offset = 0 if min_offset_seconds is None else round(float(min_offset_seconds) * float(fs))
        self.fs = float(fs)
        self.view_samples: int | None = None

    def modules(self) -> list[nn.Module]:
        return [self.pipeline]

    def loader_samples(self, view_samples: int, record_samples: int) -> int:
        from threekg.augment import window_span

        if self.windows == "random" and self.min_offset_seconds is None:
            self.min_offset = max(0, min(view_samples, record_samples - view_samples))
            if self.min_offset < view_samples <= record_samples:  # (longer views: window_span refuses them)
                log.warning("method %r: recordings of %d samples leave room for two windows of %d samples only "
                            "%d samples apart: the two views overlap%s", self.name, record_samples, view_samples,
                            self.min_offset, " completely (the same window, as windows='same')"
                            if self.min_offset == 0 else "")
        try:
            window_span(self.windows, view_samples, record_samples, self.min_offset)
        except ValueError as err:
            raise ValueError(f"method {self.name!r}: {err}") from None
        self.view_samples = view_samples
        return view_samples if self.windows == "same" else 2 * view_samples

    def loader_windows(self) -> tuple[str, int, int] | None:
        if self.windows == "same" or self.view_samples is None:
            return None
        return self.windows, self.view_samples, self.min_offset

    def make_views(self, batch: Batch, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = batch["x"]
        if self.windows == "same":  # the loader's crop is the view: no window draw (bit-identical to 0.1)
            views = torch.cat([self.pipeline(x, generator=generator) for _ in range(self.n_views)])
        else:
            view = self.view_samples if self.view_samples is not None else x.shape[-1] // 2
            if x.shape[-1] != 2 * view:
                raise ValueError(
                    f"method {self.name!r}: with windows={self.windows!r} a batch holds the two windows end to "
                    f"end, (B, 12, 2 x {view}); got {tuple(x.shape)}. The training engine's loader does this "
                    "(Method.loader_windows); from whole recordings, cut them with threekg.augment.window_pair")
            views = self.pipeline.windows(x, 2, generator=generator)
        ids = batch["patient"] if self.patient_positives else batch["index"]
        return views, torch.cat([ids] * self.n_views)  # (repeat: the same, 6x slower on a CPU)

    def describe(self) -> str:
        positives = "same patient" if self.patient_positives else "same recording"
        where = {"same": "the same window", "adjacent": "two adjacent windows",
                 "random": f"two random windows at least {self.min_offset / self.fs:g} s apart"}[self.windows]
        return f"{self.name}: {self.n_views} views of {self.pipeline.spec()} from {where}; positives: {positives}"


class CMSCMethod(Method):
    """CLOCS-CMSC: two adjacent non-overlapping segments of one recording are positives."""

    name = "cmsc"
    crop_factor = 2

    def make_views(self, batch: Batch, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        from threekg.augment import segment_pair

        x = batch["x"]
        length = x.shape[-1] // 2
        first, second = segment_pair(x, length, generator)[:2]
        return torch.cat([first, second]), torch.cat([batch["index"]] * 2)

    def describe(self) -> str:
        return "cmsc: two adjacent non-overlapping segments of one recording; positives: same recording"


class PCLRMethod(Method):
    """PCLR: two recordings of the same patient (``x`` and the loader's ``x2``) are positives."""

    name = "pclr"
    paired = True

    def make_views(self, batch: Batch, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if "x2" not in batch:
            raise ValueError("pclr: the batch has no 'x2' (build the dataset with paired=True)")
        return torch.cat([batch["x"], batch["x2"]]), torch.cat([batch["patient"]] * 2)

    def describe(self) -> str:
        return (
            "pclr: a recording and another recording of the same patient (an independent crop of the "
            "same recording when the patient has only one); positives: same patient"
        )


MethodFactory = Callable[..., Method]
F = TypeVar("F", bound=MethodFactory)
METHODS: dict[str, MethodFactory] = {}
"""Method factories ``(fs, **options) -> Method`` by name."""


def register_method(name: str) -> Callable[[F], F]:
    """Decorator registering ``factory(fs: float, **options) -> Method`` under ``name``."""

    def decorator(factory: F) -> F:
        if name in METHODS and METHODS[name] is not factory:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = factory
        return factory

    return decorator


def _augmentation_factory(name: str, **defaults: Any) -> MethodFactory:
    def factory(fs: float, **options: Any) -> Method:
        return AugmentationMethod(name, fs, **{**defaults, **options})

    factory.__doc__ = (f"Two views of PIPELINES[{name!r}]; options: pipeline, patient_positives, n_views, "
                       "windows, min_offset_seconds.")
    return factory


for _name in ("3kg", "3kg-spatial", "3kg-temporal", "3kg-rotation", "3kg-scaling", "3kg-residual", "3kg-kors", "simclr"):
    register_method(_name)(_augmentation_factory(_name))
# the paper's recipe exactly: its strengths (PIPELINES["3kg-paper"]) and both views from one window
register_method("3kg-paper")(_augmentation_factory("3kg-paper", windows="same"))
register_method("cmsc")(lambda fs: CMSCMethod())
register_method("pclr")(lambda fs: PCLRMethod())


def build_method(name: str, fs: float, **options: Any) -> Method:
    """A registered method; ValueError naming the method and the option when they are wrong."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; registered methods: {sorted(METHODS)}")
    try:
        return METHODS[name](fs, **options)
    except TypeError as err:
        raise ValueError(f"method {name!r}: bad options {options}: {err}") from None
