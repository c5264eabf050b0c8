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

from threekg.experiment.config import STUDY_CORPUS, ConfigError, DataConfig, StudyConfig
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
    if "crop_seconds" not in opts and cfg.pretrain.all_runs():
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


def _data_steps(prefix: str, root: Path, data: DataConfig, workers: int | None) -> tuple[list[Step], Path, Step | None, int]:
    """Steps that make one prepared dataset from a data section: (steps, dataset dir, its step, size hint).

    ``root``: the folder that receives ``raw/`` and ``data/``; ``prefix``: the step-name prefix
    (``""`` for the study's data, ``"corpus/NAME/"`` for a pretraining corpus).
    """
    steps: list[Step] = []
    n_hint = 1000
    if data.synth is not None:
        synth_opts = {"n": 1000, "seed": 0, "fs": 500, "seconds": 10, **data.synth}
        n_hint = int(synth_opts["n"])
        raw_dir = root / "raw"

        def run_synth(resume: bool, opts: dict[str, Any] = synth_opts, raw_dir: Path = raw_dir) -> None:
            from threekg.synth import write_challenge_tree

            if not resume:
                _clear(raw_dir)
            write_challenge_tree(raw_dir, workers=workers, **opts)

        def synth_complete(n: int = n_hint, raw_dir: Path = raw_dir) -> bool:
            # synth writes each record's .hea last and atomically: the tree is complete when all n exist
            return (raw_dir / "synth.json").exists() and sum(1 for _ in raw_dir.rglob("*.hea")) == n

        from threekg.synth.challenge import DIPOLE_REVISION

        synth_step = Step(
            name=f"{prefix}synth",
            kind="synth",
            output=raw_dir,
            # the dipole model's revision: a corpus of an older model is not reused
            options=synth_opts if synth_opts.get("generator", "dipole") != "dipole"
            else {**synth_opts, "dipole_revision": DIPOLE_REVISION},
            run=run_synth,
            is_complete=synth_complete,
            result_digest=lambda opts=synth_opts, raw_dir=raw_dir: fingerprint(  # type: ignore[misc]
                [opts, tree_signature(raw_dir)]),
            estimate_s=n_hint * float(synth_opts["fs"]) * float(synth_opts["seconds"]) * 12 * _SYNTH_S_PER_SAMPLE,
        )
        steps.append(synth_step)
        source: Path | None = raw_dir
        upstream = [synth_step]
    else:
        source = data.source
        upstream = []
    if source is None:
        assert data.prepared is not None
        return steps, data.prepared, None, n_hint
    data_dir = root / "data"
    prep_opts = dict(data.prepare)
    src = source

    def run_prepare(resume: bool, opts: dict[str, Any] = prep_opts) -> None:
        from threekg.data import prepare

        prepare(src, data_dir, workers=workers, overwrite=not resume, **opts)

    data_step = Step(
        name=f"{prefix}prepare",
        kind="prepare",
        output=data_dir,
        options={"source": str(src), **prep_opts},
        run=run_prepare,
        is_complete=lambda: (data_dir / "manifest.json").exists(),
        result_digest=lambda: _dataset_digest(data_dir),
        upstream=upstream,
        estimate_s=n_hint * _PREPARE_S_PER_RECORD,
    )
    if data.synth is None:
        # A raw source outside the study: its identity is its file count and size.
        data_step.options["source_signature"] = tree_signature(src) if src.is_dir() else str(src)
    steps.append(data_step)
    return steps, data_dir, data_step, n_hint


def _dataset_digest(data_dir: Path) -> str:
    return _digest_files(data_dir / "manifest.json", data_dir / "records.csv", data_dir / "labels.npy")


def _corpus_steps(cfg: StudyConfig, study: tuple[Path, Step | None], workers: int | None
                  ) -> tuple[list[Step], dict[str, tuple[Path, Step | None]]]:
    """Steps making every pretraining corpus, and each corpus's (dataset dir, step) by name."""
    steps: list[Step] = []
    made: dict[str, tuple[Path, Step | None]] = {STUDY_CORPUS: study}
    used = {r.corpus for r in cfg.pretrain.all_runs()}
    used |= {p for name in used if name in cfg.pretrain.corpora for p in cfg.pretrain.corpora[name].combine}
    for name, corpus in cfg.pretrain.corpora.items():  # plain corpora first: combinations need them
        if corpus.data is None or name not in used:
            continue
        more, data_dir, step, _ = _data_steps(f"corpus/{name}/", cfg.out / "corpora" / name, corpus.data, workers)
        steps += more
        made[name] = (data_dir, step)
    for name, corpus in cfg.pretrain.corpora.items():
        if not corpus.combine or name not in used:
            continue
        out_dir = cfg.out / "corpora" / name / "data"
        parts = [made[p] for p in corpus.combine]

        def run_combine(resume: bool, parts: list[tuple[Path, Step | None]] = parts,
                        names: tuple[str, ...] = corpus.combine, out_dir: Path = out_dir) -> None:
            from threekg.data import combine_datasets

            combine_datasets([d for d, _ in parts], out_dir, names=names, overwrite=True)

        step = Step(
            name=f"corpus/{name}/combine",
            kind="combine",
            output=out_dir,
            options={"combine": list(corpus.combine),
                     "digests": [_dataset_digest(d) for d, s in parts if s is None]},
            run=run_combine,
            is_complete=lambda out_dir=out_dir: (out_dir / "manifest.json").exists(),  # type: ignore[misc]
            result_digest=lambda out_dir=out_dir: _dataset_digest(out_dir),  # type: ignore[misc]
            upstream=[s for _, s in parts if s is not None],
            estimate_s=30.0,
        )
        steps.append(step)
        made[name] = (out_dir, step)
    return steps, made


def build_plan(cfg: StudyConfig, workers: int | None = None, device: str | None = None) -> list[Step]:
    """The steps of a study in execution order (data, corpora, pretraining runs, evaluate, report)."""
    out = cfg.out
    steps, data_dir, data_step, n_hint = _data_steps("", out, cfg.data, workers)
    data_upstream = [data_step] if data_step is not None else []
    more, corpora = _corpus_steps(cfg, (data_dir, data_step), workers)
    steps += more

    # -- pretraining -------------------------------------------------------------------------------
    run_steps: dict[str, list[tuple[str, Step]]] = {}
    pretrain_steps: list[tuple[int, int, Step]] = []  # (seed position, run position, step)
    for position, spec in enumerate(cfg.pretrain.all_runs()):
        corpus_dir, corpus_step = corpora[spec.corpus]
        for replicate, (run_name, seed) in enumerate(spec.instances()):
            run_dir = out / "runs" / run_name
            overrides = {**cfg.pretrain.set, **spec.set}
            if spec.method != spec.name or "method.name" in overrides:
                overrides["method.name"] = overrides.get("method.name", spec.method)
            if seed is not None:
                overrides["seed"] = seed
            options: dict[str, Any] = {
                "method": spec.method,
                "preset": cfg.pretrain.preset,
                "overrides": overrides,
                "config_file": str(cfg.pretrain.config) if cfg.pretrain.config else None,
                # the resolved options, so that an edited preset or config file is noticed too
                "resolved": _resolved_pretrain_config(cfg, overrides),
            }
            if spec.corpus != STUDY_CORPUS:
                options["corpus"] = spec.corpus
            if corpus_step is None:
                options["data_digest"] = _dataset_digest(corpus_dir)

            def run_pretrain(resume: bool, method: str = spec.method, run_dir: Path = run_dir,
                             overrides: dict[str, Any] = overrides, corpus_dir: Path = corpus_dir) -> None:
                from threekg.train import find_checkpoint, pretrain

                # An interrupted run continues from its checkpoint; one killed before its first
                # checkpoint has nothing to continue and starts again.
                resume = resume and find_checkpoint(run_dir) is not None
                pretrain(
                    corpus_dir,
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
                name=f"pretrain/{run_name}",
                kind="pretrain",
                output=run_dir,
                options=options,
                run=run_pretrain,
                is_complete=lambda run_dir=run_dir: (run_dir / "DONE").exists(),  # type: ignore[misc]
                result_digest=lambda run_dir=run_dir: _digest_files(run_dir / "encoder.safetensors"),  # type: ignore[misc]
                upstream=[corpus_step] if corpus_step is not None else [],
                estimate_s=steps_hint * batch_hint * _PRETRAIN_S_PER_SAMPLE_STEP,
            )
            run_steps.setdefault(spec.name, []).append((run_name, step))
            pretrain_steps.append((replicate, position, step))
    # every run's first seed before any run's second: a study stopped early has compared all methods
    steps += [step for _, _, step in sorted(pretrain_steps, key=lambda t: (t[0], t[1]))]

    # -- evaluation --------------------------------------------------------------------------------
    eval_dir = out / "eval"
    encoder_specs: list[str] = []
    eval_upstream: list[Step] = list(data_upstream)
    for enc in cfg.evaluate.encoders:
        if enc in run_steps:
            for run_name, step in run_steps[enc]:
                encoder_specs.append(f"{run_name}={step.output}")
                eval_upstream.append(step)
        elif enc == "random" and cfg.pretrain.replicate_seeds():
            encoder_specs += [f"random@{s}" for s in cfg.pretrain.replicate_seeds()]
        else:
            encoder_specs.append(enc)
    eval_kwargs = _evaluate_options(cfg)
    eval_steps: list[Step] = []
    for i, split in enumerate(cfg.evaluate.splits):
        # the first split keeps the folder and step name of single-split studies
        eval_dir = out / ("eval" if i == 0 else f"eval-{split}")
        eval_options: dict[str, Any] = {
            "encoders": encoder_specs,
            "fractions": list(cfg.evaluate.fractions),
            "seeds": list(cfg.evaluate.seeds),
            **cfg.evaluate.options,
        }
        if split != "fixed":
            eval_options["split"] = split
        if data_step is None:
            eval_options["data_digest"] = _dataset_digest(data_dir)
        kwargs = {**eval_kwargs, "split": split} if split != "fixed" else dict(eval_kwargs)
        eval_options["resolved"] = kwargs

        def run_evaluate(resume: bool, eval_dir: Path = eval_dir, kwargs: dict[str, Any] = kwargs) -> None:
            from threekg.evaluate import EvalOptions, evaluate

            specs: list[Any] = list(encoder_specs)
            evaluate(data_dir, specs, eval_dir, EvalOptions(device=device or "cpu", **kwargs))

        eval_step = Step(
            name="evaluate" if i == 0 else f"evaluate-{split}",
            kind="evaluate",
            output=eval_dir,
            options=eval_options,
            run=run_evaluate,
            is_complete=lambda eval_dir=eval_dir: (eval_dir / "metrics.json").exists(),  # type: ignore[misc]
            result_digest=lambda eval_dir=eval_dir: _digest_files(eval_dir / "metrics.json"),  # type: ignore[misc]
            upstream=eval_upstream,
            estimate_s=n_hint * len(encoder_specs) * _EVAL_S_PER_RECORD_ENCODER,
        )
        steps.append(eval_step)
        eval_steps.append(eval_step)

    # -- report ------------------------------------------------------------------------------------
    if cfg.report.get("enabled", True):
        report_path = out / "report.html"
        focus = cfg.report.get("focus")

        def run_report(resume: bool) -> None:
            from threekg.report import build_report

            build_report([s.output for s in eval_steps], report_path, focus=focus)

        steps.append(
            Step(
                name="report",
                kind="report",
                output=report_path,
                options={"focus": focus},
                run=run_report,
                is_complete=report_path.exists,
                result_digest=lambda: _digest_files(report_path),
                upstream=list(eval_steps),
                estimate_s=10.0,
            )
        )
    return steps
