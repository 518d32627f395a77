"""Scores of one system (a generated condition or a baseline) on the held-out study items: style identification,
style tracking, Fréchet same vs other speaker, sync, text and voiceprint identification. Chance levels alongside."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from omnitalker.constants import EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE
from omnitalker.study.features import DYNAMIC, STATIC, style_features, voiced_spectrum
from omnitalker.study.identify import (
    SpeakerCentroids,
    accuracy,
    binomial_p_value,
    fit_centroids,
    frechet_same_vs_other,
    identify,
)
from omnitalker.study.items import StudyItem
from omnitalker.study.measure import item_measures, nanmean, shuffled_sync


@dataclass
class Reference:
    """What every system is scored against, fitted once on the training sessions' ground truth."""

    style: dict[str, SpeakerCentroids]  # "dynamic" | "static" | "all"
    voice: SpeakerCentroids
    truth_e: dict[str, np.ndarray]  # speaker -> (M, 55) blendshapes + eyes frames
    truth_p: dict[str, np.ndarray]  # speaker -> (M, 6) head pose frames
    num_speakers: int


def expression_frames(codes: np.ndarray) -> np.ndarray:
    return np.concatenate([codes[:, EXPRESSION_SLICE], codes[:, EYE_SLICE]], 1)  # (T, 55)


def fit_reference(training: dict[str, list[dict]]) -> Reference:
    """``training[speaker]`` = arrays of training clips (``codes`` at ``fps``, ``mel``)."""
    style = {s: [style_features(c["codes"], float(c["fps"])) for c in clips] for s, clips in training.items()}
    voice = {s: [dict(enumerate(voiced_spectrum(c["mel"]))) for c in clips] for s, clips in training.items()}
    return Reference(
        {"dynamic": fit_centroids(style, DYNAMIC), "static": fit_centroids(style, STATIC),
         "all": fit_centroids(style, DYNAMIC + STATIC)},
        fit_centroids(voice, tuple(range(100))),
        {s: np.concatenate([expression_frames(c["codes"]) for c in clips]) for s, clips in training.items()},
        {s: np.concatenate([c["codes"][:, POSE_SLICE] for c in clips]) for s, clips in training.items()},
        len(training),
    )


def _tracking(rows: list[dict[str, float]], truth: list[dict[str, float]]) -> dict[str, float]:
    """Pearson r across items between a system's dynamic feature and the ground truth target's: does the generated
    head amplitude (etc.) follow the reference speaker's? Chance 0."""
    out = {}
    for name in DYNAMIC:
        a = np.array([r[name] for r in rows], float)
        b = np.array([t[name] for t in truth], float)
        ok = np.isfinite(a) & np.isfinite(b)
        out[name] = float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 and a[ok].std() > 1e-9 else float("nan")
    return out


def score_system(ref: Reference, items: list[StudyItem], outputs: dict[str, dict[str, np.ndarray]],
                 truth_rows: list[dict[str, float]] | None = None) -> dict:
    """``outputs[item_id]`` = {"mel": (n, 100), "codes": (T, 61)}; ``truth_rows`` = item_measures of the ground
    truth (for the tracking correlations; None when scoring the ground truth itself)."""
    rows = [item_measures(it, outputs[it.item_id]["mel"], outputs[it.item_id]["codes"]) for it in items]
    speakers = [it.speaker for it in items]
    chance = 1.0 / ref.num_speakers
    ident = {}
    for kind, model in ref.style.items():
        hits = accuracy(identify(model, rows), speakers)
        ident[kind] = {"accuracy": hits, "p_value": binomial_p_value(round(hits * len(items)), len(items), chance)}
    voice_rows = [dict(enumerate(voiced_spectrum(outputs[it.item_id]["mel"]))) for it in items]
    voice_hits = accuracy(identify(ref.voice, voice_rows), speakers)
    ident["voiceprint"] = {"accuracy": voice_hits,
                           "p_value": binomial_p_value(round(voice_hits * len(items)), len(items), chance)}
    gen_e, gen_p = defaultdict(list), defaultdict(list)
    for it in items:
        codes = outputs[it.item_id]["codes"]
        gen_e[it.speaker].append(expression_frames(codes))
        gen_p[it.speaker].append(codes[:, POSE_SLICE])
    mean = lambda key: nanmean(r[key] for r in rows)
    return {
        "identification": ident,
        "chance": chance,
        "frechet_expression": frechet_same_vs_other({s: np.concatenate(v) for s, v in gen_e.items()}, ref.truth_e),
        "frechet_pose": frechet_same_vs_other({s: np.concatenate(v) for s, v in gen_p.items()}, ref.truth_p),
        "tracking": _tracking(rows, truth_rows) if truth_rows is not None else None,
        "sync": {"r": mean("sync_r"), "lag": mean("sync_lag"),
                 "abs_lag": nanmean(abs(r["sync_lag"]) for r in rows),
                 "shuffled_r": shuffled_sync(items, outputs)},
        "dtw_mel": mean("dtw_mel"),
        "features": {k: mean(k) for k in DYNAMIC + STATIC},
        "rows": rows,
    }
