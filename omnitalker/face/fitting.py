"""Eq. 1: fit the 61-D visual code to a clip's landmarks, all frames at once in torch.

For every frame t, with the face model (S_mean, B_exp, B_eye) and a per-clip identity offset D:

    x_t = s_t * R(yaw_t, pitch_t, roll_t)[:2] @ (S_mean + D + B_exp beta_t + B_eye gamma_t) + t_t      (pixels)

minimise over (pose_t, beta_t in [0,1]^51, gamma_t, D)

    mean_t,n |x_t,n - y_t,n|^2 / s_ref^2                       data (2-D, weak perspective; missed frames weight 0)
  + w_beta  |beta_t - beta_mp,t|^2 + w_gaze |gamma_t - gamma_meas,t|^2      priors (MediaPipe scores / iris gaze)
  + w_id    |D|^2                                              identity offset stays small
  + w_smooth_* (|d beta|^2, |d gamma|^2, |d^2 pose|^2)          temporal smoothness

The priors anchor the gauge between D and beta (a constant offset could otherwise move freely between them):
MediaPipe's blendshape network is trained to be identity-independent, so a per-clip constant difference between
geometry and scores is explained by D, not by beta ("identity does not leak into beta"). Bounds are kept by
projected Adam (clamp to [0, 1] after every step; cosine learning-rate decay). Initialisation: similarity
alignment of the mean shape to the MediaPipe 3-D landmarks (pose), MediaPipe's scores (beta), iris-based gaze
(gamma), D = 0.

Frames without a detection are filled by linear interpolation of the observations (initialisation only), carry no
data term, get their values from the smoothness terms, and are flagged in `FitResult.interpolated`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from omnitalker.constants import CODE_DIM, EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE
from omnitalker.face.errors import FitError, NoFaceError
from omnitalker.face.face_model import FaceModel
from omnitalker.face.geometry import RIGID_INDICES, measure_gaze, similarity_align, to_canonical
from omnitalker.face.landmarks import LandmarkTrack
from omnitalker.face.pose import euler_to_matrix, matrix_to_euler


@dataclass
class FitConfig:
    iterations: int = 150
    lr: float = 0.02
    w_beta: float = 2e-4  # pull of beta towards MediaPipe's scores (per blendshape, squared)
    w_gaze: float = 1e-3  # pull of gamma towards the iris measurement (radians^2)
    w_identity: float = 1e-3  # L2 on the per-clip identity offset (face units^2)
    w_smooth_beta: float = 2e-4  # first differences of beta between consecutive frames
    w_smooth_gaze: float = 1e-3
    w_smooth_pose: float = 1e-2  # second differences of (yaw, pitch, roll, tx, ty, log-scale)
    max_gap: int = 12  # frames; longer runs of missed detections are reported in `long_gaps`
    seed: int = 0


@dataclass
class FitResult:
    codes: np.ndarray  # (T, 61) float32 at the track's native fps
    fit_error: np.ndarray  # (T,) mean 2-D landmark error / inter-ocular distance (NaN where interpolated)
    interpolated: np.ndarray  # (T,) bool, no detection in this frame
    identity: np.ndarray  # (478, 3) per-clip identity offset (face units)
    scale_ref: float  # pixels per face unit (median over the clip)
    centre_ref: np.ndarray  # (2,) pixels, median projected head centre
    fps: float
    long_gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) runs of missed frames > max_gap

    def report(self) -> dict:
        err = self.fit_error[np.isfinite(self.fit_error)]
        return {
            "frames": int(self.codes.shape[0]),
            "fps": self.fps,
            "fit_error_mean": float(err.mean()) if err.size else float("nan"),
            "fit_error_p95": float(np.percentile(err, 95)) if err.size else float("nan"),
            "interpolated_frames": int(self.interpolated.sum()),
            "long_gaps": self.long_gaps,
            "scale_ref_px": self.scale_ref,
            "centre_ref_px": self.centre_ref.tolist(),
            **code_jitter(self.codes),
        }


def code_jitter(codes: np.ndarray) -> dict[str, float]:
    """Mean absolute frame-to-frame change per code group (beta: score units, pose: degrees, gaze: degrees)."""
    if codes.shape[0] < 2:
        return {"jitter_beta": 0.0, "jitter_rotation_deg": 0.0, "jitter_gaze_deg": 0.0}
    d = np.abs(np.diff(codes, axis=0))
    return {
        "jitter_beta": float(d[:, EXPRESSION_SLICE].mean()),
        "jitter_rotation_deg": float(np.degrees(d[:, 51:54]).mean()),
        "jitter_translation": float(d[:, 54:56].mean()),
        "jitter_gaze_deg": float(np.degrees(d[:, EYE_SLICE]).mean()),
    }


def _interpolate_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 over invalid rows (edges: nearest valid row). values (T, ...)."""
    t = np.arange(values.shape[0])
    flat = values.reshape(values.shape[0], -1)
    out = flat.copy()
    out[~valid] = np.stack([np.interp(t[~valid], t[valid], flat[valid, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def fit_track(track: LandmarkTrack, model: FaceModel, config: FitConfig | None = None) -> FitResult:
    """Solve Eq. 1 for all frames of `track` (see module docstring)."""
    config = config or FitConfig()
    valid = track.detected & np.isfinite(track.landmarks).all(axis=(1, 2))
    if not valid.any():
        raise NoFaceError("no frame with a detected face to fit")
    observed = _interpolate_missing(track.landmarks.astype(np.float64), valid)  # (T, 478, 3)
    scores = _interpolate_missing(np.nan_to_num(track.blendshapes.astype(np.float64), nan=0.0), valid)  # (T, 51)
    gaps = [g for g in _runs(~valid) if g[1] - g[0] > config.max_gap]
    torch.manual_seed(config.seed)

    mean = model.mean_shape.detach().cpu().double().numpy()  # (478, 3)
    rigid = np.array(RIGID_INDICES)
    # pose init: 3-D similarity from the mean shape to MediaPipe's landmarks (pixels with relative depth)
    s0, r0, t0 = similarity_align(mean[rigid], observed[:, rigid])
    canonical = to_canonical(observed, s0, r0, t0)
    _, neutral = measure_gaze(mean[None])
    gaze0, _ = measure_gaze(canonical, neutral_offset=neutral[0])

    dtype = torch.float32
    obs = torch.from_numpy(observed[..., :2]).to(dtype)  # (T, 478, 2)
    weight = torch.from_numpy(valid.astype(np.float32))  # (T,)
    beta_prior = torch.from_numpy(np.clip(scores, 0.0, 1.0)).to(dtype)  # (T, 51)
    gaze_prior = torch.from_numpy(gaze0).to(dtype)  # (T, 4)
    scale_ref = float(np.median(s0[valid]))

    euler = torch.from_numpy(matrix_to_euler(torch.from_numpy(r0)).numpy()).to(dtype).requires_grad_(True)  # (T, 3)
    trans = torch.from_numpy((t0[:, :2] - np.median(t0[valid, :2], axis=0)) / scale_ref).to(dtype).requires_grad_(True)
    log_s = torch.from_numpy(np.log(s0 / scale_ref)).to(dtype).requires_grad_(True)  # (T,)
    beta = beta_prior.clone().requires_grad_(True)  # (T, 51)
    gamma = gaze_prior.clone().requires_grad_(True)  # (T, 4)
    identity = torch.zeros_like(model.mean_shape, dtype=dtype).requires_grad_(True)  # (478, 3)
    centre = torch.from_numpy(np.median(t0[valid, :2], axis=0)).to(dtype)  # (2,)

    m_mean = model.mean_shape.detach().cpu().to(dtype)
    m_exp = model.exp_basis.detach().cpu().to(dtype).reshape(model.exp_basis.shape[0], -1)  # (51, 478*3)
    m_eye = model.eye_basis.detach().cpu().to(dtype).reshape(model.eye_basis.shape[0], -1)  # (4, 478*3)

    def project() -> torch.Tensor:
        shape = (beta @ m_exp + gamma @ m_eye).reshape(-1, *m_mean.shape) + m_mean + identity  # (T, 478, 3)
        rot = euler_to_matrix(euler[:, 0], euler[:, 1], euler[:, 2])  # (T, 3, 3)
        xy = torch.einsum("tij,tnj->tni", rot[:, :2], shape)  # (T, 478, 2)
        return torch.exp(log_s)[:, None, None] * xy + trans[:, None, :]  # (T, 478, 2) face units around centre

    target = (obs - centre) / scale_ref  # (T, 478, 2) face units
    params = [euler, trans, log_s, beta, gamma, identity]
    optim = torch.optim.Adam(params, lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optim, config.iterations, eta_min=0.05 * config.lr)
    wsum = weight.sum().clamp(min=1.0)
    for _ in range(config.iterations):
        optim.zero_grad(set_to_none=True)
        resid = ((project() - target) ** 2).sum(-1).mean(-1)  # (T,)
        loss = (resid * weight).sum() / wsum
        loss = loss + config.w_beta * ((beta - beta_prior) ** 2).sum(-1).mean()
        loss = loss + config.w_gaze * ((gamma - gaze_prior) ** 2).sum(-1).mean()
        loss = loss + config.w_identity * (identity**2).sum(-1).mean()
        if beta.shape[0] > 1:
            loss = loss + config.w_smooth_beta * (beta.diff(dim=0) ** 2).sum(-1).mean()
            loss = loss + config.w_smooth_gaze * (gamma.diff(dim=0) ** 2).sum(-1).mean()
        if beta.shape[0] > 2:
            pose = torch.cat([euler, trans, log_s[:, None]], dim=-1)  # (T, 6)
            loss = loss + config.w_smooth_pose * (pose.diff(n=2, dim=0) ** 2).sum(-1).mean()
        loss.backward()
        optim.step()
        schedule.step()
        with torch.no_grad():
            beta.clamp_(0.0, 1.0)
    with torch.no_grad():
        pred = project()
        err = (pred - target).norm(dim=-1).mean(-1) / torch.exp(log_s)  # (T,) / IOD of that frame
        if not torch.isfinite(pred).all():
            raise FitError("Eq. 1 fitting diverged (non-finite landmarks)")
        codes = torch.zeros(beta.shape[0], CODE_DIM)
        codes[:, EXPRESSION_SLICE] = beta
        codes[:, POSE_SLICE] = torch.cat([euler, trans, log_s[:, None]], dim=-1)
        codes[:, EYE_SLICE] = gamma
    fit_error = err.numpy().astype(np.float32)
    fit_error[~valid] = np.nan
    return FitResult(
        codes=codes.numpy().astype(np.float32),
        fit_error=fit_error,
        interpolated=~valid,
        identity=identity.detach().numpy().astype(np.float32),
        scale_ref=scale_ref,
        centre_ref=centre.numpy().astype(np.float64),
        fps=track.fps,
        long_gaps=gaps,
    )


def fitted_landmarks_px(result: FitResult, model: FaceModel) -> np.ndarray:
    """(T, 478, 2) pixel positions of the fitted model (identity offset included) for overlays and error checks."""
    with torch.no_grad():
        codes = torch.from_numpy(result.codes)
        posed = model.posed(codes, identity=torch.from_numpy(result.identity))  # (T, 478, 3) face units
        centre = torch.from_numpy(result.centre_ref).float()
        return model.project(posed, result.scale_ref, centre.expand(codes.shape[0], 2)).numpy()
