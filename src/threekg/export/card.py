"""The model card (``README.md``) of an exported encoder: method, data, steps, evaluation, limits, licence.

Everything on the card is read from files: the encoder's metadata (what the pretraining run
recorded), the pretraining dataset's ``manifest.json`` when it is named, and an evaluation's
``metrics.json`` when one is found or given. What is not known is said to be unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from threekg import __version__
from threekg.models.source import EncoderSource

PAPER = "Gopal et al., 3KG: Contrastive Learning of 12-Lead Electrocardiograms using Physiologically-Inspired " \
        "Augmentations, ML4H 2021 (arXiv:2106.04452)"

LICENCES = {
    "ptbxl": "CC BY 4.0 (PTB-XL on PhysioNet): cite the data set and PhysioNet",
    "cinc": "CC BY 4.0 if these are PhysioNet/CinC Challenge records (cite the challenge and PhysioNet); "
            "`threekg synth` trees use the same layout and are synthetic, with no third-party licence",
}
"""Licence of the pretraining data by the ``source`` kind in its manifest (other kinds: unknown)."""


def find_metrics_entry(metrics: dict[str, Any], source: EncoderSource) -> str | None:
    """The name under which ``metrics.json`` evaluated this encoder (matched by its path), if any."""
    targets = {source.path.resolve(), source.file.resolve()}
    tails = {source.path.resolve().parts[-2:], source.file.resolve().parts[-2:]}
    for name, info in (metrics.get("encoders") or {}).items():
        given = str(info.get("source", "")) if isinstance(info, dict) else ""
        if not given or given in ("random", "supervised"):
            continue
        p = Path(given)
        if p.resolve() in targets or p.parts[-2:] in tails:
            return str(name)
    return None


def _yaml_header(tags: list[str]) -> str:
    lines = ["---", "library_name: threekg", "pipeline_tag: feature-extraction", "tags:"]
    lines += [f"- {t}" for t in tags]
    return "\n".join([*lines, "---", ""])


def _g(x: Any) -> str:
    return f"{x:g}" if isinstance(x, int | float) else "?"


def _fmt(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, int | float) else "n/a"


def evaluation_section(metrics: dict[str, Any], this: str | None, where: str) -> list[str]:
    """Markdown lines: macro AUROC (mean over seeds, 95% bootstrap CI) per encoder and label fraction."""
    summary = metrics.get("summary") or []
    fractions = sorted({float(r["fraction"]) for r in summary})
    encoders = list(dict.fromkeys(r["encoder"] for r in summary))
    data = metrics.get("data") or {}
    lines = ["## Evaluation", "",
             f"Linear probe on the frozen encoder (`threekg evaluate`), read from `{where}`: data set "
             f"`{Path(str(data.get('path', '?'))).name}` ({data.get('n_records', '?')} records, {_g(data.get('fs'))} Hz, "
             f"label set `{data.get('label_set', '?')}`, {data.get('split', '?')} split, "
             f"{data.get('n_test', '?')} test records). Macro AUROC, mean over seeds, with its 95% bootstrap "
             "interval over test records." + ("" if this else " This encoder is not among the evaluated ones."), "",
             "| encoder | " + " | ".join(f"{f:.0%} of labels" for f in fractions) + " |",
             "|---|" + "---|" * len(fractions)]
    cell = {(r["encoder"], float(r["fraction"])): r for r in summary}
    for e in encoders:
        cells = []
        for f in fractions:
            r = cell.get((e, f))
            cells.append(f"{_fmt(r['macro_auroc_mean'])} [{_fmt(r['ci_low'], 2)}, {_fmt(r['ci_high'], 2)}]"
                         if r else "")
        label = f"**{e}** (this encoder)" if e == this else e
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    paired = [p for p in metrics.get("paired") or [] if this in (p.get("encoder_a"), p.get("encoder_b"))]
    if paired:
        lines += ["", "Paired differences (this encoder minus the other; same subsets and resamples):", ""]
        for p in paired:
            sign = 1 if p["encoder_a"] == this else -1
            other = p["encoder_b"] if sign == 1 else p["encoder_a"]
            lo, hi = sorted((sign * p["ci_low"], sign * p["ci_high"]))
            lines.append(f"- vs {other} at {float(p['fraction']):.0%} of labels: {sign * p['diff_mean']:+.3f} "
                         f"[{lo:+.3f}, {hi:+.3f}]")
    dropped = metrics.get("dropped_classes") or {}
    if dropped:
        lines += ["", f"Classes left out of the macro average: {', '.join(sorted(dropped))}."]
    return [*lines, ""]


def _pretraining_section(source: EncoderSource, data: dict[str, Any] | None, embed_dim: int,
                         n_params: int) -> list[str]:
    meta = source.metadata
    cfg: dict[str, Any] = meta["config"] if isinstance(meta.get("config"), dict) else {}
    get = lambda section, key: (cfg.get(section) or {}).get(key, "n/a")  # noqa: E731
    spec = source.input
    lines = ["## Pretraining", "",
             f"- Method: `{meta.get('method', 'unknown')}`" + (f": {meta['method_description']}"
                                                              if meta.get("method_description") else ""),
             f"- Encoder: `{json.dumps(source.config, sort_keys=True)}`, {embed_dim}-d embedding, "
             f"{n_params:,} parameters",
             f"- Steps: {meta.get('global_step', 'unknown')} optimizer steps"
             + (f" (batch {get('data', 'batch_size')} per process, crops of {get('data', 'crop_seconds')} s, "
                f"learning rate {get('optim', 'lr')}, NT-Xent temperature {get('loss', 'temperature')}, "
                f"projection head `{get('head', 'kind')}`, seed {cfg.get('seed', 'n/a')})" if cfg else "")]
    if data:
        lines.append(f"- Data: `{data['name']}`: {data.get('n_records', '?')} records from a `{data.get('source', '?')}` "
                     f"source, {_g(data.get('fs'))} Hz, {data.get('n_samples', '?')} samples per record")
    else:
        lines.append("- Data: not recorded in the run (re-export with `--pretrain-data DIR` to describe it); "
                     f"{spec.get('fs', '?')} Hz input")
    lines += [f"- Exported by threekg {__version__} from `{source.file.name}` (sha256 `{source.sha256}`)", ""]
    return lines


def model_card(source: EncoderSource, folder: str, *, embed_dim: int, n_params: int,
               pretrain_data: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
               metrics_where: str = "", data_licence: str | None = None) -> str:
    """The whole ``README.md`` text of the hub folder named ``folder``.

    ``pretrain_data``: ``name`` plus manifest fields of the pretraining set (``n_records``, ``source``, ``fs``,
    ``n_samples``); ``metrics``: a metrics.json document read from ``metrics_where``.
    """
    spec = source.input
    fs = f"{float(spec['fs']):g} Hz" if spec.get("fs") else "not recorded"
    method = str(source.metadata.get("method", "unknown"))
    this = find_metrics_entry(metrics, source) if metrics else None
    if data_licence is None:
        kind = (pretrain_data or {}).get("source")
        data_licence = LICENCES.get(str(kind), "unknown: state the licence of the pretraining data "
                                               "(`threekg export ... --data-licence TEXT`)")
    leads = ", ".join(spec.get("leads") or []) or "not recorded"
    crop = spec.get("crop_samples")
    lines = [_yaml_header(sorted({"ecg", "electrocardiogram", "self-supervised", "contrastive", method,
                                  "pytorch_model_hub_mixin", "model_hub_mixin"})),
             f"# {source.name}: a 12-lead ECG encoder pretrained with `{method}`", "",
             "An encoder that maps a 12-lead ECG crop to an embedding, trained without labels by contrastive "
             f"self-supervision with threekg, an implementation of 3KG ({PAPER}).", "",
             "## Use", "",
             "```python",
             "from threekg.models import load_encoder",
             f'encoder = load_encoder("{folder}")          # this folder; eval mode',
             f"z = encoder(x)   # x: (batch, 12, {crop or 'samples'}) float32 mV -> (batch, {embed_dim})",
             "",
             "from threekg.models.hub_mixin import ThreeKGEncoder   # huggingface_hub's PyTorchModelHubMixin",
             f'model = ThreeKGEncoder.from_pretrained("{folder}")',
             "```", "",
             f"Whole data sets: `threekg embed DATA --encoder {folder} --out emb/` (crops averaged per record).", "",
             "## Input", "",
             "| sampling rate | crop | leads, in this order | units | normalisation |",
             "|---|---|---|---|---|",
             f"| {fs} | {crop or 'not recorded'} samples"
             + (f" ({crop / spec['fs']:g} s)" if crop and spec.get("fs") else "")
             + f" | {leads} | {spec.get('units', 'mV')} | {spec.get('normalize', 'none')} |", "",
             *_pretraining_section(source, pretrain_data, embed_dim, n_params)]
    if metrics:
        lines += evaluation_section(metrics, this, metrics_where)
    else:
        lines += ["## Evaluation", "", "No evaluation was given (`threekg export ... --metrics eval/metrics.json`).", ""]
    lines += ["## Limits", "",
              "- Trained without labels: an embedding is not a diagnosis. Fit a classifier on labelled data of your "
              "own (e.g. a linear probe) and validate it on your population before relying on it.",
              f"- Expects {fs if spec.get('fs') else 'the pretraining rate'}, the 12 standard leads in the order above, in mV; "
              "other rates or lead sets must be prepared to match (`threekg prepare --fs`); other crop lengths "
              "run but were not seen in pretraining.",
              "- Evaluation figures hold for the data set named there; devices, hospitals and populations differ.",
              "- Not a medical device; not validated for clinical use.", "",
              "## Data licence", "", f"Pretraining data: {data_licence}.", ""]
    return "\n".join(lines)
