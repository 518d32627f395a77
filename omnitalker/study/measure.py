"""Per-item measures of one system's outputs (a trained condition or a baseline) on the held-out study items.

Baselines, computed from the data alone (what a number means is only visible next to them):
  ground_truth     the target clip itself (the ceiling)
  copy_reference   the reference clip looped / cut to the target's length (the trivial style copier)
  population_mean  the mean code and mean log-mel frame of the training clips, constant in time (chance for style)
"""

from __future__ import annotations

import numpy as np

from omnitalker.constants import MEL_FPS
from omnitalker.study.features import dtw_distance, style_features, sync_lag, voiced_spectrum
from omnitalker.study.items import StudyItem

BASELINES = ("ground_truth", "copy_reference", "population_mean")


def nanmean(values) -> float:
    """Mean over the finite values; NaN (without a warning) when there are none, e.g. a constant mouth's sync."""
    x = np.asarray(list(values), float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _loop(x: np.ndarray, length: int) -> np.ndarray:
    """Repeat ``x`` (n, F) along time and cut it to ``length`` frames."""
    reps = -(-length // x.shape[0])
    return np.concatenate([x] * reps)[:length]


def baseline_outputs(name: str, items: list[StudyItem], mean_code: np.ndarray,
                     mean_mel: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """``{item_id: {"mel": (n, 100), "codes": (T, 61)}}`` of one baseline, shaped like the ground truth."""
    out = {}
    for it in items:
        n, t = it.gt_mel.shape[0], it.gt_codes.shape[0]
        if name == "ground_truth":
            mel, codes = it.gt_mel, it.gt_codes
        elif name == "copy_reference":
            mel, codes = _loop(it.ref_mel, n), _loop(it.ref_codes_video, t)
        elif name == "population_mean":
            mel, codes = np.tile(mean_mel, (n, 1)), np.tile(mean_code, (t, 1))
        else:
            raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
        out[it.item_id] = {"mel": np.asarray(mel, np.float32), "codes": np.asarray(codes, np.float32)}
    return out


def item_measures(item: StudyItem, mel: np.ndarray, codes: np.ndarray) -> dict[str, float]:
    """Style features, sync (lag, r) between the system's own mouth and audio, and the DTW mel distance to the
    ground truth of the same text. ``mel`` (n, 100) at the mel rate, ``codes`` (T, 61) at the item's video rate."""
    row = dict(style_features(codes, item.fps))
    row["sync_lag"], row["sync_r"] = sync_lag(codes, item.fps, mel)
    row["dtw_mel"] = dtw_distance(mel, item.gt_mel)
    return row


def shuffled_sync(items: list[StudyItem], outputs: dict[str, dict[str, np.ndarray]]) -> float:
    """Mean best-lag r between each item's mouth and the audio of the next item (cut to equal length): what the
    ±lag search finds in unrelated signals, i.e. the chance level of ``sync_r``."""
    rs = []
    for k, it in enumerate(items):
        other = outputs[items[(k + 1) % len(items)].item_id]["mel"]
        codes = outputs[it.item_id]["codes"]
        t = min(codes.shape[0], int(other.shape[0] / MEL_FPS * it.fps))
        rs.append(sync_lag(codes[:t], it.fps, other[: int(t / it.fps * MEL_FPS)])[1])
    return nanmean(rs)


def voice_vectors(mels: list[np.ndarray]) -> np.ndarray:
    """(N, 100) crude voiceprints (mean log-mel of the louder frames)."""
    return np.stack([voiced_spectrum(m) for m in mels])
