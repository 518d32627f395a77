"""Ground-truth rows of the paper's Tables 1 and 2 on the real clips of a media folder, with the offline models.

Every real talking video with audio in ``<media>/manifest.json`` is cut into a reference (first half) and a target
(second half) of the same person (:func:`omnitalker.eval.testsets.build_from_halves`); that test set is scored by
``scripts/evaluate.py``'s machinery (:class:`omnitalker.eval.runner.Evaluation`) as ``system=ground_truth`` (the
target itself), ``system=copy_reference`` (the reference looped to the target's length) and ``system=mean_motion``
(the population-mean code at every frame; codes only, so only E-FID / P-FID apply). Writes ``out/metrics.json``
(every system's summary) and ``out/report.md`` (Tables 1 and 2, one row per system). Resumable like evaluate.py:
clips already cut and fitted are kept, measurements already made are reused, so ``limit=N`` first and the full set
later in the same ``out`` builds on the first run.

    python scripts/eval_groundtruth_tables.py out=outputs/gt_tables [media=../shared/media max_seconds=10 \
        code_stride=25 fvd_windows=1 csim_frames=4 max_side=720 systems=ground_truth,copy_reference,mean_motion]

The defaults are sized for a loaded 2-core CPU (about an hour there): the first 10 s of each clip (5-s halves),
one 16-frame I3D window per item and side, 4 frames per half for CSIM, codes fitted at one frame per second.
FVD is not run for ground_truth (0 by definition: generated = target) and sync_landmark not for copy_reference
(the looped reference carries its own audio, so it is in sync by construction).

The clips have no transcripts, so WER is not on this set (see scripts/eval_audio_groundtruth.py for WER on the
transcribed speech files). Errors print one line and exit with status 1.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's omnitalker, also when run as a script

from omnitalker.eval.report import compare  # noqa: E402
from omnitalker.eval.runner import Evaluation, RunOptions  # noqa: E402
from omnitalker.eval.testsets import build_from_halves, load_testset  # noqa: E402

DEFAULTS = {"out": None, "media": str(REPO.parent / "shared" / "media"), "max_seconds": "10", "code_stride": "25",
            "fvd_windows": "1", "csim_frames": "4", "max_side": "720", "limit": "0",
            "systems": "ground_truth,copy_reference,mean_motion"}


def talking_clips(media: Path) -> list[Path]:
    """Every real talking video with audio listed in the media manifest."""
    manifest = json.loads((media / "manifest.json").read_text(encoding="utf-8"))
    return [media / e["file"] for e in sorted(manifest, key=lambda e: e["file"])
            if e.get("kind") == "talking_video" and e.get("has_audio")]


def metrics_for(system: str, args: dict[str, str]) -> dict[str, dict]:
    """The metrics of Tables 1 and 2 that apply to ``system`` (WER needs transcripts the clips lack)."""
    style = {"efid": {"codes": "dit"}, "pfid": {"codes": "dit"}}  # the halves' codes (face pipeline, subsampled)
    if system == "mean_motion":
        return style
    metrics = {"sim_a": {}, "dnsmos": {}, "csim": {"max_frames": int(args["csim_frames"])}, **style}
    if system != "ground_truth":  # FVD(target, target) = 0 by definition
        metrics["fvd"] = {"max_clips": int(args["fvd_windows"])}
    if system != "copy_reference":  # the looped reference carries its own audio: in sync by construction
        metrics["sync_landmark"] = {}
    return metrics


def main(argv: list[str]) -> int:
    args = dict(DEFAULTS)
    for a in argv:
        key, sep, value = a.partition("=")
        if not sep or key not in DEFAULTS:
            print(f"error: unknown argument {a!r}; known: {', '.join(f'{k}=' for k in DEFAULTS)}", file=sys.stderr)
            return 1
        args[key] = value
    if not args["out"]:
        print("error: give out=DIR", file=sys.stderr)
        return 1
    out, media = Path(args["out"]), Path(args["media"])
    try:
        clips = talking_clips(media)[: int(args["limit"]) or None]
        print(f"halves test set of {len(clips)} clips (clips not built yet: face pipeline fit, slow)", flush=True)
        manifest = build_from_halves(clips, out / "testset", float(args["max_seconds"]), int(args["code_stride"]),
                                     int(args["max_side"]))  # resumable: clips built before are kept
        items = load_testset(manifest)
        runs = []
        for system in args["systems"].split(","):
            if system == "mean_motion":  # its mean code depends on every item: recomputed (cheap, codes only)
                shutil.rmtree(out / system, ignore_errors=True)
            options = RunOptions(system=system, metrics=metrics_for(system, args), max_side=int(args["max_side"]),
                                 plots=False)
            summary = Evaluation(items, out / system, options, testset=str(manifest)).run()
            print(f"{system}: " + "; ".join(f"{n}={m['values']}" for n, m in summary["metrics"].items()), flush=True)
            runs.append(out / system)
        summaries = {r.name: json.loads((r / "metrics.json").read_text(encoding="utf-8")) for r in runs}
        (out / "metrics.json").write_text(json.dumps(summaries, indent=2), encoding="utf-8")
        report = compare(runs, out)
    except Exception as exc:  # noqa: BLE001  one line, as evaluate.py
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out / 'metrics.json'} and {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
