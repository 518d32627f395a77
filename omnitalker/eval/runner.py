"""Generate (or collect) every test-set item, score it with the requested metrics, aggregate, report.

Layout of ``out``::

    run.json                      what this directory holds (test set, system); a different one is refused
    items/<id>/generated.mp4|wav  outputs generated here (``system=generate``)
    items/<id>/generation.json    wall clock and per-stage seconds of that generation (written last = complete)
    items/<id>/metrics/<m>.json   one metric's Measurement for the item: scalars, options, info ...
    items/<id>/metrics/<m>.npz    ... and its arrays (numeric only, read with allow_pickle=False)
    metrics.json, report.md, plots/

Resuming reuses every complete generation and every measurement whose metric options are unchanged. Metrics are
found through the registry only (``build_metric``); their modules are imported by name on first use.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from omnitalker.eval import baselines
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, build_metric, registered
from omnitalker.eval.testsets import TestItem

log = logging.getLogger(__name__)

METRIC_MODULES: dict[str, str] = {
    "wer": "omnitalker.eval.wer",
    "sim_a": "omnitalker.eval.speaker",
    "dnsmos": "omnitalker.eval.dnsmos",
    "fvd": "omnitalker.eval.fvd",
    "csim": "omnitalker.eval.identity",
    "sync_landmark": "omnitalker.eval.sync",
    "syncnet": "omnitalker.eval.sync",
    "efid": "omnitalker.eval.style",
    "pfid": "omnitalker.eval.style",
    "motion": "omnitalker.eval.style",
}
SYSTEMS = ("generate", "generated") + baselines.BASELINES
MEDIA_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".wav", ".flac", ".mp3", ".ogg")


class EvalRunError(RuntimeError):
    """The evaluation cannot run as asked (the message says why)."""


def load_metric(name: str, options: dict | None = None, modules: dict[str, str] | None = None) -> Metric:
    """Build a registered metric, importing its module first when it is not registered yet."""
    modules = {**METRIC_MODULES, **(modules or {})}
    if name not in registered():
        if name not in modules:
            raise MetricError(f"unknown metric {name!r}; known: {', '.join(sorted(modules))}")
        try:
            importlib.import_module(modules[name])
        except ModuleNotFoundError as exc:
            raise MetricError(f"metric {name!r} lives in {modules[name]}, which cannot be imported: {exc}") from exc
    return build_metric(name, **(options or {}))


# ----------------------------------------------------------------------------------------------- media loading
def load_clip(path: Path | None, text: str = "", max_side: int | None = None, codes: Path | None = None) -> Clip:
    """A media file (video and/or audio) -> Clip at 24 kHz, frames shrunk to ``max_side``; codes from an npz."""
    from omnitalker.constants import SAMPLE_RATE
    from omnitalker.inference.media import decode_audio, decode_video, probe_media

    clip = Clip(text=text)
    if path is not None:
        info = probe_media(path)
        if info.has_audio:
            clip.audio, _ = decode_audio(path)
            clip.sample_rate = SAMPLE_RATE
        if info.has_video:
            clip.frames, clip.fps = decode_video(path, max_side=max_side)
    if codes is not None:
        clip.codes, clip.codes_fps = read_codes(codes)
    return clip


def read_codes(path: Path) -> tuple[np.ndarray, float]:
    try:
        with np.load(path, allow_pickle=False) as data:
            codes, fps = data["codes"].astype(np.float32), float(data["fps"])
    except (OSError, ValueError, KeyError) as exc:
        raise EvalRunError(f"cannot read visual codes {path} (an npz with 'codes' (T, 61) and 'fps'): {exc}") from exc
    if codes.ndim != 2 or codes.shape[1] != 61:
        raise EvalRunError(f"{path}: codes must be (T, 61), got {codes.shape}")
    return codes, fps


def find_output(directory: Path, item_id: str) -> Path | None:
    for suffix in MEDIA_SUFFIXES:
        if (directory / f"{item_id}{suffix}").is_file():
            return directory / f"{item_id}{suffix}"
    return None


# ----------------------------------------------------------------------------------------------- measurement cache
def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_measurement(directory: Path, name: str, m: Measurement, options: dict, info: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in m.arrays.items()}
    for key, value in arrays.items():
        if value.dtype == object:
            raise MetricError(f"metric {name}: array {key!r} is not numeric")
    tmp = directory / f"{name}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, directory / f"{name}.npz")
    _atomic_write(directory / f"{name}.json", json.dumps(
        {"metric": name, "options": options, "info": info, "scalars": m.scalars, "arrays": sorted(arrays)}))


def load_measurement(directory: Path, name: str, options: dict) -> Measurement | None:
    """The cached measurement, or None when absent, incomplete or made with other options."""
    meta_path, npz_path = directory / f"{name}.json", directory / f"{name}.npz"
    if not meta_path.is_file() or not npz_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("options") != options:
            return None
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable cache %s: %s", meta_path, exc)
        return None
    if sorted(arrays) != meta.get("arrays"):
        return None
    return Measurement({k: float(v) for k, v in meta["scalars"].items()}, arrays)


# ----------------------------------------------------------------------------------------------- the run
@dataclass
class RunOptions:
    system: str = "generate"  # generate | generated | ground_truth | copy_reference | mean_motion
    metrics: dict[str, dict] = field(default_factory=lambda: {"efid": {}, "pfid": {}, "motion": {}})
    generated_dir: str | None = None  # system=generated: outputs named <id>.mp4 / <id>.wav (+ optional <id>.npz)
    max_side: int | None = 720  # frames are shrunk to this longer side when loaded (memory)
    modules: dict[str, str] = field(default_factory=dict)  # extra / overriding metric name -> module
    renderer: str | None = None  # system=mean_motion: draw the mean codes with this renderer (else codes only)
    device: str = "cpu"
    progress: bool = True
    plots: bool = True


def _check_run_dir(out: Path, testset: str, system: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    marker = out / "run.json"
    this = {"testset": testset, "system": system}
    if marker.is_file():
        held = json.loads(marker.read_text(encoding="utf-8"))
        if {k: held.get(k) for k in this} != this:
            raise EvalRunError(f"{out} holds an evaluation of {held.get('system')} on {held.get('testset')}; give a "
                               f"new out= for {system} on {testset}")
    else:
        _atomic_write(marker, json.dumps(this))


def generate_item(pipeline, item: TestItem, item_dir: Path) -> Path:
    """Run the real pipeline for one item (skipped when generation.json says it is done)."""
    done = item_dir / "generation.json"
    suffix = ".wav" if item.audio_only else ".mp4"
    output = item_dir / f"generated{suffix}"
    if done.is_file() and output.is_file():
        return output
    item_dir.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    if item.audio_only:
        seconds, timings = pipeline.speak(item.text, item.ref, item.ref_text, output)
        frames = 0
    else:
        result = pipeline.generate(item.text, item.ref, output, ref_text=item.ref_text or None,
                                   ref_codes=item.ref_codes, codes_out=item_dir / "generated_codes.npz",
                                   progress=False)
        seconds, timings, frames = result.duration_s, result.timings, round(result.duration_s * pipeline.cfg.fps)
    wall = time.perf_counter() - tic
    _atomic_write(done, json.dumps({"wall_s": wall, "seconds": seconds, "frames": frames, "stages_s": timings}))
    return output


def speed_summary(out: Path, items: list[TestItem]) -> dict[str, float]:
    """FPS end to end and per stage (frames / seconds summed over items), and the real-time factor."""
    records = [json.loads(p.read_text()) for p in (out / "items" / i.id / "generation.json" for i in items)
               if p.is_file()]
    if not records:
        return {}
    wall, seconds, frames = (sum(r[k] for r in records) for k in ("wall_s", "seconds", "frames"))
    summary = {"items": float(len(records)), "wall_s": wall, "rtf": wall / seconds if seconds else math.nan}
    if frames:
        summary["fps_end_to_end"] = frames / wall
        for stage in sorted({s for r in records for s in r["stages_s"]}):
            spent = sum(r["stages_s"].get(stage, 0.0) for r in records)
            summary[f"fps_{stage}"] = frames / spent if spent > 0 else math.inf
    return summary


class Evaluation:
    """One evaluation run: ``items`` scored into ``out`` as ``options.system``."""

    def __init__(self, items: list[TestItem], out: str | Path, options: RunOptions, testset: str = "",
                 pipeline=None) -> None:
        if options.system not in SYSTEMS:
            raise EvalRunError(f"system must be one of {SYSTEMS}, got {options.system!r}")
        if options.system == "generate" and pipeline is None:
            raise EvalRunError("system=generate needs the models (dit=... renderer=...); or give generated=DIR")
        if options.system == "generated":
            if not options.generated_dir or not Path(options.generated_dir).is_dir():
                raise EvalRunError(f"generated={options.generated_dir} is not a directory")
            missing = [i.id for i in items if find_output(Path(options.generated_dir), i.id) is None]
            if missing:
                raise EvalRunError(f"{options.generated_dir} has no output for {len(missing)} of {len(items)} items "
                                   f"(files are named <id>.mp4 or <id>.wav), e.g. {', '.join(missing[:5])}")
        if options.system in baselines.BASELINES and any(i.gt is None and i.gt_codes is None for i in items):
            raise EvalRunError(f"system={options.system} needs the ground truth (gt) of every item")
        self.items, self.out, self.options, self.testset, self.pipeline = items, Path(out), options, testset, pipeline
        self.metrics = {name: load_metric(name, opts, options.modules) for name, opts in options.metrics.items()}
        self.counts = {name: {"computed": 0, "cached": 0, "failed": 0} for name in self.metrics}
        self._mean_code: np.ndarray | None = None
        self.renderer = None
        if options.system == "mean_motion" and options.renderer:
            from omnitalker.render.checkpoint import load_renderer

            self.renderer = load_renderer(options.renderer, options.device).eval()

    def item_dir(self, item: TestItem) -> Path:
        return self.out / "items" / item.id

    def _generated(self, item: TestItem, reference: Clip, target: Clip | None) -> Clip:
        system = self.options.system
        if system == "generate":
            path = generate_item(self.pipeline, item, self.item_dir(item))
            codes = self.item_dir(item) / "generated_codes.npz"
            return load_clip(path, item.text, self.options.max_side, codes if codes.is_file() else None)
        if system == "generated":
            directory = Path(self.options.generated_dir)
            codes = directory / f"{item.id}.npz"
            return load_clip(find_output(directory, item.id), item.text, self.options.max_side,
                             codes if codes.is_file() else None)
        assert target is not None
        if system == "ground_truth":
            return target
        if system == "copy_reference":
            return baselines.copy_reference(reference, baselines.duration_of(target), item.text)
        fps = target.codes_fps or target.fps
        clip = baselines.mean_motion(self.mean_code(), baselines.duration_of(target), fps, item.text)
        return clip if self.renderer is None else baselines.render_codes(self.renderer, reference, clip)

    def mean_code(self) -> np.ndarray:
        """Population-mean code of the targets (cached in out/mean_code.npy)."""
        if self._mean_code is None:
            path = self.out / "mean_code.npy"
            if path.is_file():
                self._mean_code = np.load(path, allow_pickle=False)
            else:
                from omnitalker.eval.style import clip_codes

                codes = [clip_codes(self._target(i), "target", "given")[0] for i in self.items]
                self._mean_code = baselines.population_mean(codes)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, self._mean_code, allow_pickle=False)
        return self._mean_code

    def _target(self, item: TestItem) -> Clip | None:
        if item.gt is None and item.gt_codes is None:
            return None
        return load_clip(item.gt, item.text, self.options.max_side, item.gt_codes)

    def eval_item(self, item: TestItem) -> EvalItem:
        reference = load_clip(item.ref, item.ref_text, self.options.max_side, item.ref_codes)
        target = self._target(item)
        return EvalItem(item.id, item.language, self._generated(item, reference, target), reference, target)

    def _measure_item(self, item: TestItem, errors: dict[str, dict[str, str]]) -> dict[str, Measurement]:
        out: dict[str, Measurement] = {}
        todo = []
        for name in self.metrics:
            cached = load_measurement(self.item_dir(item) / "metrics", name, self.options.metrics[name])
            if cached is None:
                todo.append(name)
            else:
                out[name] = cached
                self.counts[name]["cached"] += 1
        ungenerated = self.options.system == "generate" and not (self.item_dir(item) / "generation.json").is_file()
        if not todo and not ungenerated:  # everything cached: no media is even decoded
            return out
        eval_item = self.eval_item(item)
        for name in todo:
            metric = self.metrics[name]
            try:
                m = metric.measure(eval_item)
            except MetricError as exc:
                errors[name][item.id] = str(exc)
                self.counts[name]["failed"] += 1
                continue
            save_measurement(self.item_dir(item) / "metrics", name, m, self.options.metrics[name], metric.info)
            out[name] = m
            self.counts[name]["computed"] += 1
        return out

    def run(self) -> dict:
        _check_run_dir(self.out, self.testset, self.options.system)
        if self.options.system == "mean_motion" and self.renderer is None:
            for name in ("efid", "pfid", "motion"):  # the baseline has codes only: score them, say so in info
                if name in self.options.metrics:
                    self.options.metrics[name] = {**self.options.metrics[name], "codes": "dit"}
                    self.metrics[name] = load_metric(name, self.options.metrics[name], self.options.modules)
        errors: dict[str, dict[str, str]] = {name: {} for name in self.metrics}
        per_item: dict[str, dict[str, Measurement]] = {}
        failed: dict[str, str] = {}
        for item in tqdm(self.items, desc=f"evaluate {self.options.system}", unit="item",
                         disable=not self.options.progress):
            try:
                per_item[item.id] = self._measure_item(item, errors)
            except (MetricError, EvalRunError):
                raise
            except Exception as exc:  # noqa: BLE001  one item's bad input or failed generation must not end the run
                failed[item.id] = f"{type(exc).__name__}: {exc}"
                per_item[item.id] = {}
                log.warning("item %s: %s", item.id, failed[item.id])
        summary = {"testset": self.testset, "system": self.options.system, "items": len(self.items),
                   "failed_items": failed, "metrics": {}, "speed": speed_summary(self.out, self.items)}
        for name, metric in self.metrics.items():
            ms = [per_item[i.id][name] for i in self.items if name in per_item[i.id]]
            values = metric.aggregate(ms) if ms else {}
            summary["metrics"][name] = {"values": values, "info": metric.info, "options": self.options.metrics[name],
                                        "measured": len(ms), "errors": errors[name]}
        _atomic_write(self.out / "metrics.json", json.dumps(summary, indent=2, allow_nan=True))
        if self.options.plots and "motion" in self.metrics:
            from omnitalker.eval.plots import make_plots

            summary["plots"] = [str(p) for p in make_plots(
                {i.id: per_item[i.id]["motion"] for i in self.items if "motion" in per_item[i.id]},
                self.out / "plots")]
        from omnitalker.eval.report import write_report

        write_report(summary, self.out / "report.md")
        return summary
