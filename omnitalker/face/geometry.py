"""Batched similarity alignment (Umeyama/Procrustes) and gaze measurement on MediaPipe landmarks.

Used to bring observed landmarks into the canonical head frame (face-model building) and to initialise the pose
of the Eq. 1 fitting.
"""

from __future__ import annotations

import numpy as np

from omnitalker.face.face_model import LEFT_IRIS, RIGHT_IRIS

# Landmarks that move little with expression (forehead, nose bridge and tip, eye corners, temples, upper cheeks);
# similarity alignment uses only these so that mouth/jaw motion does not tilt the estimated head pose.
RIGID_INDICES: tuple[int, ...] = (
    10,
    151,
    9,
    8,
    168,
    6,
    197,
    195,
    5,
    4,
    1,
    33,
    133,
    362,
    263,
    127,
    356,
    234,
    454,
    93,
    323,
    108,
    337,
    67,
    297,
    109,
    338,
    103,
    332,
    143,
    372,
    116,
    345,
    351,
    122,
    48,
    278,
)
# Eye corners used for the gaze measurement: (outer, inner) for the subject's right and left eye.
RIGHT_EYE_CORNERS: tuple[int, int] = (33, 133)
LEFT_EYE_CORNERS: tuple[int, int] = (263, 362)
EYEBALL_RADIUS: float = 0.125  # face units (~1.2 cm for a 9.5 cm outer inter-ocular distance)


def similarity_align(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None):
    """Best s, R, t with ``target ~ s * source @ R.T + t`` (least squares, batched over leading dims).

    source: (..., N, D), target: (..., N, D), weights: (N,) or None. Returns s (...,), R (..., D, D), t (..., D).
    """
    w = np.ones(source.shape[-2]) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    src = source.astype(np.float64)
    tgt = target.astype(np.float64)
    mu_s = np.einsum("n,...nd->...d", w, src)
    mu_t = np.einsum("n,...nd->...d", w, tgt)
    xs = src - mu_s[..., None, :]
    xt = tgt - mu_t[..., None, :]
    cov = np.einsum("n,...ni,...nj->...ij", w, xt, xs)  # (..., D, D)
    u, sig, vh = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vh))
    fix = np.ones(sig.shape)
    fix[..., -1] = d
    rot = u @ (fix[..., :, None] * vh)
    var_s = np.einsum("n,...nd->...", w, xs**2)
    scale = (sig * fix).sum(-1) / np.maximum(var_s, 1e-12)
    trans = mu_t - scale[..., None] * np.einsum("...ij,...j->...i", rot, mu_s)
    return scale, rot, trans


def to_canonical(points: np.ndarray, scale: np.ndarray, rot: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Invert ``points = s * X @ R.T + t``: (..., N, 3) -> (..., N, 3) canonical X."""
    return np.einsum("...nj,...jk->...nk", points - trans[..., None, :], rot) / scale[..., None, None]


def measure_gaze(canonical: np.ndarray, neutral_offset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaze angles from iris centres in the canonical frame (face units).

    canonical: (..., 478, 3). For each eye the iris centre offset from the mid-point of its corners, minus the
    neutral offset (straight-ahead; (2, 2) per eye, x/y), divided by the eyeball radius, gives sin(angle).
    Returns gaze (..., 4) as (yaw_left, pitch_left, yaw_right, pitch_right) and the raw offsets (..., 2, 2)
    [left, right] x [x, y]. Signs follow `omnitalker.face.pose`: positive yaw = towards the image left (-x),
    positive pitch = down (+y).
    """
    offsets = []
    for iris, (outer, inner) in ((LEFT_IRIS, LEFT_EYE_CORNERS), (RIGHT_IRIS, RIGHT_EYE_CORNERS)):
        mid = 0.5 * (canonical[..., outer, :2] + canonical[..., inner, :2])
        offsets.append(canonical[..., iris[0], :2] - mid)
    raw = np.stack(offsets, axis=-2)  # (..., 2, 2)
    rel = raw - (0.0 if neutral_offset is None else neutral_offset)
    s = np.clip(rel / EYEBALL_RADIUS, -0.99, 0.99)
    yaw = np.arcsin(-s[..., 0])  # (..., 2)
    pitch = np.arcsin(s[..., 1])
    gaze = np.stack([yaw[..., 0], pitch[..., 0], yaw[..., 1], pitch[..., 1]], axis=-1)
    return gaze.astype(np.float32), raw
