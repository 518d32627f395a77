"""Does a clip's style identify its speaker? Nearest-centroid speaker identification fitted on the ground truth of
training sessions, and Fréchet distances of generated codes to the same speaker's ground truth vs other speakers'.

Accuracy is reported against chance (1 / number of speakers); the dynamic and static feature sets are scored apart,
since a model that copies the reference's resting pose identifies speakers on static features alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnitalker.eval.frechet import frechet_distance_of


@dataclass
class SpeakerCentroids:
    speakers: list[str]
    centroids: np.ndarray  # (S, F) speaker means of standardised features
    mean: np.ndarray  # (F,) standardisation fitted on the training clips
    scale: np.ndarray  # (F,)
    names: tuple[str, ...]

    def standardise(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.mean) / self.scale  # (N, F)


def feature_matrix(features: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    """Rows of per-clip feature dicts -> (N, F) in ``names`` order (NaN where a feature is undefined)."""
    return np.array([[float(f.get(n, np.nan)) for n in names] for f in features], dtype=np.float64)


def fit_centroids(features: dict[str, list[dict[str, float]]], names: tuple[str, ...]) -> SpeakerCentroids:
    """``features[speaker]`` = feature dicts of that speaker's training clips."""
    speakers = sorted(features)
    rows = {s: feature_matrix(features[s], names) for s in speakers}
    pooled = np.concatenate(list(rows.values()))  # (N, F)
    mean = np.nanmean(pooled, 0)
    scale = np.nanstd(pooled, 0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    centroids = np.stack([np.nanmean((rows[s] - mean) / scale, 0) for s in speakers])  # (S, F)
    return SpeakerCentroids(speakers, np.nan_to_num(centroids), mean, scale, names)


def identify(model: SpeakerCentroids, features: list[dict[str, float]]) -> list[str]:
    """Nearest centroid (Euclidean in standardised units; an undefined feature counts as the population mean)."""
    x = np.nan_to_num(model.standardise(feature_matrix(features, model.names)))  # (N, F)
    dist = ((x[:, None, :] - model.centroids[None]) ** 2).sum(-1)  # (N, S)
    return [model.speakers[k] for k in dist.argmin(1)]


def accuracy(predicted: list[str], truth: list[str]) -> float:
    if len(predicted) != len(truth) or not truth:
        raise ValueError("need one prediction per item")
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))


def binomial_p_value(correct: int, n: int, chance: float) -> float:
    """One-sided P(X >= correct) for X ~ Binomial(n, chance): is the accuracy above chance?"""
    from math import comb

    return float(sum(comb(n, k) * chance**k * (1 - chance) ** (n - k) for k in range(correct, n + 1)))


def frechet_same_vs_other(generated: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict[str, float]:
    """``generated[speaker]`` (N, F) frames generated for references of that speaker; ``truth[speaker]`` (M, F) the
    speaker's ground-truth frames. Returns the mean Fréchet distance to the same speaker, to the other speakers, and
    the fraction of speakers whose own ground truth is the nearest of all speakers (chance 1/S)."""
    same, other, nearest = [], [], []
    speakers = sorted(generated)
    for s in speakers:
        d = {t: frechet_distance_of(generated[s], truth[t]) for t in sorted(truth)}
        same.append(d[s])
        other.append(float(np.mean([v for t, v in d.items() if t != s])))
        nearest.append(min(d, key=d.get) == s)
    return {"same": float(np.mean(same)), "other": float(np.mean(other)), "nearest_is_same": float(np.mean(nearest)),
            "chance": 1.0 / len(truth)}
