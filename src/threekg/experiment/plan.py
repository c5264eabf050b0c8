"""Turn a :class:`StudyConfig` into an ordered list of :class:`Step` objects.

Layout under the study's ``out`` folder::

    raw/            generated challenge-format tree (synth studies only)
    data/           the prepared dataset
    runs/<method>/  one pretraining run per method
    eval/           metrics.json, tables, cached embeddings
    report.html     (+ report_files/, summary.md)
    .threekg/steps/ one JSON file per finished step (fingerprint, duration)

Each step calls the public Python API of its package, never a CLI and never another step's internals.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from threekg.experiment.config import ConfigError, StudyConfig
from threekg.experiment.steps import Step, file_digest, fingerprint, tree_signature

# Rough a-priori seconds per unit of work on one 2-core CPU; only used for the "time left" display
# and corrected on the fly by the measured speed of the steps already run.
_SYNTH_S_PER_SAMPLE = 2.0e-8
_PREPARE_S_PER_RECORD = 2.0e-3
_PRETRAIN_S_PER_SAMPLE_STEP = 1.5e-4
_EVAL_S_PER_RECORD_ENCODER = 3.0e-3


def _digest_files(*paths: Path) -> str:
    return fingerprint([file_digest(p) if p.exists() else None for p in paths])


def _clear(path: Path) -> None:
    """Remove a step's stale output (only paths inside the study's own ``out`` folder)."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _evaluate_options(cfg: StudyConfig) -> dict[str, Any]:
    """Keyword arguments of :class:`threekg.evaluate.EvalOptions` for this study.

    Unless the study says otherwise, embeddings use the crop length the encoders were pretrained on
    (the preset's ``data.crop_seconds`` and overrides), so the probe sees what the encoder learned on.
    """
    import dataclasses

    from threekg.evaluate import EvalOptions
    from threekg.train.config import load_defaults, load_preset

    allowed = {f.name for f in dataclasses.fields(EvalOptions)} - {"device", "train", "progress"}
    opts = dict(cfg.evaluate.options)
    unknown = sorted(set(opts) - allowed)
    if unknown:
        raise ConfigError(f"evaluate.options: unknown option(s) {unknown}; allowed: {sorted(allowed)}")
    if "crop_seconds" not in opts and cfg.pretrain.methods:
        crop = cfg.pretrain.set.get("data.crop_seconds")
        if crop is None:
            crop = load_preset(cfg.pretrain.preset).get("data", {}).get("crop_seconds")
        if crop is None:
            crop = load_defaults()["data"]["crop_seconds"]
        opts["crop_seconds"] = float(crop)
    opts["fractions"] = tuple(cfg.evaluate.fractions)
    opts["seeds"] = tuple(cfg.evaluate.seeds)
    if "cache_dir" in opts:
        opts["cache_dir"] = Path(opts["cache_dir"])
    return opts


def _resolved_pretrain_config(cfg: StudyConfig, overrides: dict[str, Any]) -> dict[str, Any]:
    from threekg.train.config import resolve_config

    return resolve_config(cfg.pretrain.preset, config_file=cfg.pretrain.config,
                          overrides=list(overrides.items()))


def build_plan(cfg: StudyConfig, workers: int | None = None, device: str | None = None) -> list[Step]:
    """The steps of a study in execution order (synth, prepare, pretrain per method, evaluate, report)."""
    out = cfg.out
    steps: list[Step] = []
    n_hint = 1000

    # -- data --------------------------------------------------------------------------------------
    data_step: Step | None = None
    data_dir: Path
    if cfg.data.synth is not None:
        synth_opts = {"n": 1000, "seed": 0, "fs": 500, "seconds": 10, **cfg.data.synth}
        n_hint = int(synth_opts["n"])
        raw_dir = out / "raw"

        def run_synth(resume: bool, opts: dict[str, Any] = synth_opts) -> None:
            from threekg.synth import write_challenge_tree

            if not resume:
                _clear(raw_dir)
            write_challenge_tree(raw_dir, workers=workers, **opts)

        def synth_complete(n: int = n_hint) -> bool:
            # synth writes each record's .hea last and atomically: the tree is complete when all n exist
            return (raw_dir / "synth.json").exists() and sum(1 for _ in raw_dir.rglob("*.hea")) == n

        synth_step = Step(
            name="synth",
            kind="synth",
            output=raw_dir,
            options=synth_opts,
            run=run_synth,
            is_complete=synth_complete,
            result_digest=lambda: fingerprint([synth_opts, tree_signature(raw_dir)]),
            estimate_s=n_hint * float(synth_opts["fs"]) * float(synth_opts["seconds"]) * 12 * _SYNTH_S_PER_SAMPLE,
        )
        steps.append(synth_step)
        source: Path | None = raw_dir
        upstream = [synth_step]
    else:
        source = cfg.data.source
        upstream = []

    if source is not None:
        data_dir = out / "data"
        prep_opts = dict(cfg.data.prepare)
        src = source

        def run_prepare(resume: bool, opts: dict[str, Any] = prep_opts) -> None:
            from threekg.data import prepare

            prepare(src, data_dir, workers=workers, overwrite=not resume, **opts)

        data_step = Step(
            name="prepare",
            kind="prepare",
            output=data_dir,
            options={"source": str(src), **prep_opts},
            run=run_prepare,
            is_complete=lambda: (data_dir / "manifest.json").exists(),
            result_digest=lambda: _digest_files(
                data_dir / "manifest.json", data_dir / "records.csv", data_dir / "labels.npy"
            ),
            upstream=upstream,
            estimate_s=n_hint * _PREPARE_S_PER_RECORD,
        )
        if cfg.data.synth is None:
            # A raw source outside the study: its identity is its file count and size.
            data_step.options["source_signature"] = tree_signature(src) if src.is_dir() else str(src)
        steps.append(data_step)
    else:
        assert cfg.data.prepared is not None
        data_dir = cfg.data.prepared

    def data_digest() -> str:
        return _digest_files(data_dir / "manifest.json", data_dir / "records.csv", data_dir / "labels.npy")

    data_upstream = [data_step] if data_step is not None else []

    # -- pretraining -------------------------------------------------------------------------------
    run_steps: dict[str, Step] = {}
    for method in cfg.pretrain.methods:
        run_dir = out / "runs" / method
        overrides = {**cfg.pretrain.set, **cfg.pretrain.per_method.get(method, {})}
        options: dict[str, Any] = {
            "method": method,
            "preset": cfg.pretrain.preset,
            "overrides": overrides,
            "config_file": str(cfg.pretrain.config) if cfg.pretrain.config else None,
            # the resolved options, so that an edited preset or config file is noticed too
            "resolved": _resolved_pretrain_config(cfg, overrides),
        }
        if data_step is None:
            options["data_digest"] = data_digest()

        def run_pretrain(resume: bool, method: str = method, run_dir: Path = run_dir,
                         overrides: dict[str, Any] = overrides) -> None:
            from threekg.train import find_checkpoint, pretrain

            # An interrupted run continues from its checkpoint; one killed before its first
            # checkpoint has nothing to continue and starts again.
            resume = resume and find_checkpoint(run_dir) is not None
            pretrain(
                data_dir,
                method,
                run_dir,
                preset=cfg.pretrain.preset,
                overrides=list(overrides.items()),
                config_file=cfg.pretrain.config,
                resume=resume,
                overwrite=not resume,
            )

        steps_hint = int(overrides.get("trainer.max_steps", 200))
        batch_hint = int(overrides.get("data.batch_size", 64))
        step = Step(
            name=f"pretrain/{method}",
            kind="pretrain",
            output=run_dir,
            options=options,
            run=run_pretrain,
            is_complete=lambda run_dir=run_dir: (run_dir / "DONE").exists(),  # type: ignore[misc]
            result_digest=lambda run_dir=run_dir: _digest_files(run_dir / "encoder.safetensors"),  # type: ignore[misc]
            upstream=list(data_upstream),
            estimate_s=steps_hint * batch_hint * _PRETRAIN_S_PER_SAMPLE_STEP,
        )
        run_steps[method] = step
        steps.append(step)

    # -- evaluation --------------------------------------------------------------------------------
    eval_dir = out / "eval"
    encoder_specs: list[str] = []
    eval_upstream: list[Step] = list(data_upstream)
    for enc in cfg.evaluate.encoders:
        if enc in run_steps:
            encoder_specs.append(f"{enc}={run_steps[enc].output}")
            eval_upstream.append(run_steps[enc])
        else:
            encoder_specs.append(enc)
    eval_options: dict[str, Any] = {
        "encoders": encoder_specs,
        "fractions": list(cfg.evaluate.fractions),
        "seeds": list(cfg.evaluate.seeds),
        **cfg.evaluate.options,
    }
    if data_step is None:
        eval_options["data_digest"] = data_digest()

    eval_kwargs = _evaluate_options(cfg)
    eval_options["resolved"] = eval_kwargs

    def run_evaluate(resume: bool) -> None:
        from threekg.evaluate import EvalOptions, evaluate

        specs: list[Any] = list(encoder_specs)
        evaluate(data_dir, specs, eval_dir, EvalOptions(device=device or "cpu", **eval_kwargs))

    eval_step = Step(
        name="evaluate",
        kind="evaluate",
        output=eval_dir,
        options=eval_options,
        run=run_evaluate,
        is_complete=lambda: (eval_dir / "metrics.json").exists(),
        result_digest=lambda: _digest_files(eval_dir / "metrics.json"),
        upstream=eval_upstream,
        estimate_s=n_hint * len(encoder_specs) * _EVAL_S_PER_RECORD_ENCODER,
    )
    steps.append(eval_step)

    # -- report ------------------------------------------------------------------------------------
    if cfg.report.get("enabled", True):
        report_path = out / "report.html"
        focus = cfg.report.get("focus")

        def run_report(resume: bool) -> None:
            from threekg.report import build_report

            build_report([eval_dir], report_path, focus=focus)

        steps.append(
            Step(
                name="report",
                kind="report",
                output=report_path,
                options={"focus": focus},
                run=run_report,
                is_complete=report_path.exists,
                result_digest=lambda: _digest_files(report_path),
                upstream=[eval_step],
                estimate_s=10.0,
            )
        )
    return steps
