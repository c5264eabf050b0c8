"""DeepFake-ECG: unlabelled normal 12-lead ECGs from a GAN trained on real recordings.

The generator is the Pulse2Pulse network of the ``deepfake-ecg`` package (Thambawita et al., Sci Rep
2021; MIT; ``pip install 'threekg[deepfake]'``), trained on real normal 10 s ECGs. It maps a latent
(8, 5000) uniform(-1, 1) array to 10 s of the eight independent leads I, II, V1-V6 at 500 Hz
(tanh output); III, aVR, aVL, aVF follow from I and II (Einthoven/Goldberger). The package's own
``generate()`` writes ``output * 6000`` as integers; we read one output unit as
:data:`MV_PER_UNIT` = 6 mV (i.e. the package's integers are microvolts), a choice measured against
PTB-XL (per-lead amplitudes and R amplitudes agree within about 10 %; see docs/synth.md).

Records depend only on (seed, index) on a given machine: the latent of record ``i`` is drawn from
its own NumPy generator, and the forward pass always runs on the aligned block of :data:`BATCH`
records that contains ``i`` (float32 convolutions are not bit-identical across batch sizes, but are
across the other members of a batch and across torch thread counts), so the output does not depend
on ``n``, on ``workers`` or on which records a resumed run still had to write.

The checkpoint is read with ``torch.load(weights_only=True)`` only: a file that needs to unpickle
code is refused.
"""

from __future__ import annotations

import importlib.util
import warnings
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from threekg import errors
from threekg.data.resample import fix_length
from threekg.errors import UsageError
from threekg.hashing import file_sha256
from threekg.leads import INDEPENDENT_LEADS
from threekg.progress import progress_bar
from threekg.synth.challenge import (
    MAX_RECORDS,
    MAX_SAMPLES,
    MIN_FS,
    RECORDS_PER_FOLDER,
    _check_options,
    missing_records,
    write_record,
)
from threekg.vcg import expand_8_to_12

GENERATOR = "deepfake"
"""This generator's name in ``write_challenge_tree(generator=...)`` and ``synth.json``."""
MISSING_EXTRA = ("the deepfake generator needs the optional package deepfake-ecg: "
                 "pip install 'threekg[deepfake]'")
GENERATOR_FS = 500.0
"""Sampling rate of the GAN's output (Hz)."""
GENERATOR_SAMPLES = 5000
"""Samples per lead of one GAN output (10 s at 500 Hz)."""
GENERATOR_SECONDS = GENERATOR_SAMPLES / GENERATOR_FS
MV_PER_UNIT = 6.0
"""mV per unit of the GAN's tanh output (the package writes ``output * 6000`` as microvolts)."""
BATCH = 32
"""Records per forward pass, in aligned blocks (``i // BATCH``): fixed, because it changes the bits."""
PREFIX = "DFK"
"""Record names ``DFK000001`` and patient ids ``DFKP000001``: never equal to the dipole tree's ``SYN``."""


class MissingExtraError(errors.MissingExtraError):
    """The optional ``deepfake-ecg`` package is not installed."""


def extra_installed() -> bool:
    """Whether the optional ``deepfake-ecg`` package can be imported."""
    return importlib.util.find_spec("deepfakeecg") is not None


def record_name(index: int) -> str:
    """``DFK000001`` for index 0."""
    return f"{PREFIX}{index + 1:06d}"


def record_path(out: Path, index: int) -> Path:
    """Base path (no suffix) of record ``index`` under ``out``: ``out/g1/DFK000001``."""
    return out / f"g{index // RECORDS_PER_FOLDER + 1}" / record_name(index)


def checkpoint_path() -> Path:
    """The checkpoint shipped inside the ``deepfake-ecg`` package (``deepfakeecg/checkpoints/g_stat.pt``)."""
    try:
        root = resources.files("deepfakeecg")
    except ModuleNotFoundError:
        raise MissingExtraError(MISSING_EXTRA) from None
    return Path(str(root.joinpath("checkpoints", "g_stat.pt")))


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights from ``path``, read with ``torch.load(weights_only=True)`` only.

    Raises:
        ValueError: naming the file, when it is not a plain dict of tensors (for example a pickle that
            would run code) or is not a checkpoint at all.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise  # missing or unreadable: the OS's own message, with the file name
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError...: all mean "not a safe checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: refused, not a weights-only checkpoint ({first})") from None
    state = obj.get("stat_dict", obj) if isinstance(obj, dict) else obj  # the package's key is "stat_dict"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return state


def load_generator(checkpoint: str | Path | None = None) -> torch.nn.Module:
    """The package's Pulse2Pulse ``Generator`` with the weights of ``checkpoint`` (default: the shipped one).

    Input (batch, 8, 5000) in [-1, 1]; output (batch, 8, 5000) tanh units (times :data:`MV_PER_UNIT`
    = mV), leads :data:`threekg.leads.INDEPENDENT_LEADS`. In eval mode, gradients off. The global
    torch random state is left as it was (the constructor draws an initialisation we overwrite).
    """
    try:
        from deepfakeecg.models import Generator
    except ModuleNotFoundError:
        raise MissingExtraError(MISSING_EXTRA) from None
    state = load_state_dict(checkpoint if checkpoint is not None else checkpoint_path())
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the package calls the deprecated nn.init.kaiming_normal
        net = Generator()
    net.load_state_dict(state)
    net.eval()
    net.requires_grad_(False)
    return net


def latent(seed: int, index: int) -> np.ndarray:
    """The GAN input of record ``index`` of data set ``seed``: (8, 5000) float32, uniform in [-1, 1)."""
    rng = np.random.default_rng([seed, index, 3])
    return rng.uniform(-1.0, 1.0, (len(INDEPENDENT_LEADS), GENERATOR_SAMPLES)).astype(np.float32)


def block_of(index: int) -> range:
    """The aligned block of :data:`BATCH` record indices whose forward pass produces record ``index``."""
    start = index // BATCH * BATCH
    return range(start, start + BATCH)


def generate_block(net: torch.nn.Module, seed: int, block: int, fs: float = GENERATOR_FS) -> np.ndarray:
    """Records ``block * BATCH .. block * BATCH + BATCH - 1`` of data set ``seed`` in memory.

    Returns:
        (BATCH, 12, round(10 * fs)) float64, mV, :data:`threekg.leads.LEADS` order (limb leads derived
        from I and II), resampled from 500 Hz with :func:`threekg.data.resample.fix_length`.
    """
    z = torch.from_numpy(np.stack([latent(seed, i) for i in block_of(block * BATCH)]))
    with torch.inference_mode():
        x8 = net(z).numpy().astype(np.float64) * MV_PER_UNIT
    if fs != GENERATOR_FS:  # linear, so resampling the 8 leads before deriving the others is exact
        x8 = fix_length(x8, GENERATOR_FS, fs, round(GENERATOR_SECONDS * fs), short="pad")
    return np.einsum("lk,bkt->blt", expand_8_to_12(), x8)


def generate_deepfake(indices: list[int] | range, seed: int, fs: float = GENERATOR_FS,
                      net: torch.nn.Module | None = None) -> np.ndarray:
    """Records ``indices`` of data set ``seed``: (len(indices), 12, round(10 * fs)) float64 mV.

    Each record is the same as in a written tree of the same seed (same block, same forward pass).
    """
    net = net if net is not None else load_generator()
    blocks: dict[int, np.ndarray] = {}
    out = []
    for i in indices:
        if i // BATCH not in blocks:
            blocks[i // BATCH] = generate_block(net, seed, i // BATCH, fs)
        out.append(blocks[i // BATCH][i % BATCH])
    return np.stack(out)


def header_meta(index: int) -> dict[str, Any]:
    """Header fields of one record: no age, sex or diagnosis (empty ``#Dx``), its own patient."""
    return {"age": "Unknown", "sex": "Unknown", "codes": [], "patient_id": f"{PREFIX}P{index + 1:06d}"}


_NET: torch.nn.Module | None = None
"""The generator of this process (a worker loads it once)."""


def _init_worker(threads: int) -> None:
    global _NET
    torch.set_num_threads(threads)
    _NET = load_generator()


def _release_worker() -> None:
    global _NET
    _NET = None


def _write_block(out: Path, block: int, todo: list[int], seed: int, fs: float) -> int:
    assert _NET is not None
    ecg = generate_block(_NET, seed, block, fs)
    for i in todo:
        base = record_path(out, i)
        base.parent.mkdir(parents=True, exist_ok=True)
        write_record(base, ecg[i % BATCH], fs, header_meta(i))
    return len(todo)


def write_deepfake_tree(
    out: str | Path,
    n: int,
    seed: int,
    fs: float = 500.0,
    seconds: float = 10.0,
    recordings_per_patient: int = 1,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write DeepFake records 0..n-1 of data set ``seed`` as a CinC-2020-style tree; skips complete records.

    ``workers``: processes (default 1: the forward pass already uses torch's threads,
    ``torch.get_num_threads()``, which honours ``OMP_NUM_THREADS``); with several, each gets an equal
    share of those threads. The output does not depend on it. Returns ``out`` as a Path.

    Raises:
        MissingExtraError: ``deepfake-ecg`` is not installed.
        UsageError (a ValueError): ``seconds`` is not 10, ``recordings_per_patient`` is not 1, or ``out``
            holds a tree made with other options.
    """
    if not 0 < n <= MAX_RECORDS:
        raise UsageError(f"n must be in 1..{MAX_RECORDS}, got {n}")
    if seed < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    if seconds != GENERATOR_SECONDS:
        raise UsageError(f"the deepfake generator makes {GENERATOR_SECONDS:g} s records; got seconds={seconds:g} "
                         "(crop later with threekg prepare --seconds)")
    if recordings_per_patient != 1:
        raise UsageError("the deepfake generator makes one recording per patient; "
                         f"got recordings_per_patient={recordings_per_patient}")
    if not (MIN_FS <= fs < np.inf and round(fs * seconds) <= MAX_SAMPLES):
        raise UsageError(f"fs must be positive, at least {MIN_FS:g} Hz and give at most {MAX_SAMPLES:,} samples "
                         f"per record, got {fs:g} Hz")
    ckpt = checkpoint_path()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"generator": GENERATOR, "seed": seed, "fs": fs, "seconds": seconds, "recordings_per_patient": 1,
               "checkpoint_sha256": file_sha256(ckpt), "mv_per_unit": MV_PER_UNIT, "batch": BATCH}
    _check_options(out, n, options, {
        "generator": {"package": "deepfake-ecg", "version": metadata.version("deepfake-ecg"),
                      "generated_leads": list(INDEPENDENT_LEADS), "generated_fs": GENERATOR_FS,
                      "derived_leads": ["III", "aVR", "aVL", "aVF"]},
        "labels": "none: unlabelled normal ECGs, '#Dx:' is empty (prepare with --label-set none)",
    })
    blocks = list(missing_records(out, n, BATCH, record_path))
    todo = sum(len(t) for _, t in blocks)
    workers = max(1, min(workers or 1, len(blocks) or 1))
    threads = max(1, torch.get_num_threads() // workers)
    with progress_bar(n, f"synth deepfake -> {out}", "rec", initial=n - todo, disable=not progress) as bar:
        if workers == 1:
            _init_worker(torch.get_num_threads())
            try:
                for block, todo_block in blocks:
                    bar.update(_write_block(out, block, todo_block, seed, fs))
            finally:
                _release_worker()
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(threads,)) as pool:
                futures = [pool.submit(_write_block, out, b, t, seed, fs) for b, t in blocks]
                for fut in futures:
                    bar.update(fut.result())
    return out

