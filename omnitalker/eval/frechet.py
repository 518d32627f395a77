"""Fréchet distance between two Gaussians fitted to feature sets (FID/FVD/E-FID/P-FID share this).

d² = |μ_a − μ_b|² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½), with the matrix square root taken through the symmetric form
Σ_a^½ Σ_b Σ_a^½ (eigendecomposition, real and stable for PSD inputs).
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``features`` (N, D) -> mean (D,), covariance (D, D) (unbiased; N >= 2)."""
    x = np.asarray(features, dtype=np.float64)  # (N, D)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D), got {x.shape}")
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)  # (D,), (D, D)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    root_a = _psd_sqrt(cov_a)  # (D, D)
    cross = _psd_sqrt(root_a @ cov_b @ root_a)  # (Σa^½ Σb Σa^½)^½, same trace as (Σa Σb)^½
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(cross)
    return float(max(value, 0.0))


def frechet_distance_of(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N_a, D) and (N_b, D)."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))
