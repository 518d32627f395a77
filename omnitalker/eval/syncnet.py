"""SyncNet (Chung & Zisserman 2016, the ``syncnet_v2.model`` of syncnet_python) and the Sync-C / Sync-D scores.

The module names and shapes match syncnet_python's ``S`` model, so the public ``syncnet_v2.model`` (a torch file
holding a plain state dict) loads with ``torch.load(weights_only=True)`` from a local path. No copy of it exists
offline; tests use random weights saved in the same key layout.

Scoring follows syncnet_python's ``SyncNetInstance.evaluate`` (as LatentSync's evaluation uses it): 224x224 face
crops (BGR, 0..255) in 5-frame windows at 25 fps, 13 MFCCs at 100 Hz (python_speech_features defaults, on int16-scaled
16 kHz audio) in 20-step windows; mean distance over frames for every audio offset in ±vshift; Sync-D = the minimum
mean distance, Sync-C = median minus minimum, offset = vshift − argmin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.fft import dct
from torch import Tensor, nn

from omnitalker.eval.metric import MetricError

SYNCNET_FPS = 25
SYNCNET_SR = 16000


def _bn_relu_2d(cin: int, cout: int, **conv) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, **conv), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _bn_relu_3d(cin: int, cout: int, **conv) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, **conv), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _fc(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, dim))


class SyncNet(nn.Module):
    """Audio tower on (N, 1, 13, 20) MFCC windows, lip tower on (N, 3, 5, 224, 224) BGR crops -> (N, 1024) each."""

    def __init__(self, embed_dim: int = 1024) -> None:
        super().__init__()
        k3 = {"kernel_size": 3, "padding": 1}
        self.netcnnaud = nn.Sequential(
            *_bn_relu_2d(1, 64, **k3), nn.MaxPool2d(1, 1),
            *_bn_relu_2d(64, 192, **k3), nn.MaxPool2d(3, (1, 2)),
            *_bn_relu_2d(192, 384, **k3),
            *_bn_relu_2d(384, 256, **k3),
            *_bn_relu_2d(256, 256, **k3), nn.MaxPool2d(3, 2),
            *_bn_relu_2d(256, 512, kernel_size=(5, 4)),
        )  # fmt: skip
        self.netfcaud = _fc(embed_dim)
        self.netfclip = _fc(embed_dim)
        self.netcnnlip = nn.Sequential(
            *_bn_relu_3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2)), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_bn_relu_3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), padding=(0, 1, 1)),
            *_bn_relu_3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_bn_relu_3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            *_bn_relu_3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_bn_relu_3d(256, 512, kernel_size=(1, 6, 6)),
        )  # fmt: skip

    def forward_aud(self, mfcc: Tensor) -> Tensor:  # (N, 1, 13, 20) -> (N, D)
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, crops: Tensor) -> Tensor:  # (N, 3, 5, 224, 224) -> (N, D)
        return self.netfclip(self.netcnnlip(crops).flatten(1))


def load_syncnet(path: str | Path) -> SyncNet:
    """``syncnet_v2.model`` (state dict of syncnet_python's S) from a local path; never executes code."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MetricError(
            f"SyncNet weights {path} not found (syncnet_path); get syncnet_v2.model from syncnet_python's "
            "download_model.sh on a machine with internet and pass its local path"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, refused globals, truncated files
        raise MetricError(f"{path} is not a SyncNet state dict: {str(exc).splitlines()[0]}") from exc
    if not isinstance(state, dict):
        raise MetricError(f"{path} holds a {type(state).__name__}, expected a state dict of tensors")
    model = SyncNet()
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise MetricError(f"{path} does not match SyncNet's layout: missing {missing[:3]}, unexpected {extra[:3]}")
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise MetricError(f"{path}: {str(exc).splitlines()[-1].strip()}") from exc
    return model.eval()


def _mel_filterbank(nfilt: int, nfft: int, sr: int) -> np.ndarray:
    """python_speech_features' triangular filters (nfilt, nfft // 2 + 1) on floor-rounded FFT bins."""
    mels = np.linspace(0.0, 2595 * np.log10(1 + (sr / 2) / 700.0), nfilt + 2)
    bins = np.floor((nfft + 1) * (700 * (10 ** (mels / 2595.0) - 1)) / sr)
    idx = np.arange(nfft // 2 + 1)[None, :]  # (1, F)
    lo, mid, hi = bins[:-2, None], bins[1:-1, None], bins[2:, None]  # (nfilt, 1)
    rise = np.where((idx >= lo) & (idx < mid), (idx - lo) / np.maximum(mid - lo, 1e-12), 0.0)
    fall = np.where((idx >= mid) & (idx < hi), (hi - idx) / np.maximum(hi - mid, 1e-12), 0.0)
    return rise + fall


def mfcc(audio: np.ndarray, sr: int = SYNCNET_SR) -> np.ndarray:
    """python_speech_features.mfcc defaults (25 ms rectangular frames, 10 ms step, 26 filters, 512 FFT, 0.97
    pre-emphasis, lifter 22, c0 = log frame energy) -> (13, M)."""
    x = np.asarray(audio, dtype=np.float64)
    x = np.append(x[0], x[1:] - 0.97 * x[:-1])
    flen, step, nfft = round(0.025 * sr), round(0.01 * sr), 512
    count = 1 if len(x) <= flen else 1 + int(np.ceil((len(x) - flen) / step))
    x = np.pad(x, (0, (count - 1) * step + flen - len(x)))
    frames = x[np.arange(flen)[None, :] + step * np.arange(count)[:, None]]  # (M, flen)
    power = np.abs(np.fft.rfft(frames, nfft)) ** 2 / nfft  # (M, 257)
    eps = np.finfo(float).eps
    energy = np.where(power.sum(1) == 0, eps, power.sum(1))  # (M,)
    feat = power @ _mel_filterbank(26, nfft, sr).T  # (M, 26)
    feat = dct(np.log(np.where(feat == 0, eps, feat)), type=2, axis=1, norm="ortho")[:, :13]
    feat *= 1 + 11.0 * np.sin(np.pi * np.arange(13) / 22)
    feat[:, 0] = np.log(energy)
    return feat.T


@torch.no_grad()
def sync_scores(
    model: SyncNet, crops: np.ndarray, audio16k: np.ndarray, vshift: int = 15, batch_size: int = 20
) -> dict[str, float]:
    """crops (T, 224, 224, 3) uint8 BGR at 25 fps, audio (n,) float in [-1, 1] at 16 kHz -> offset, Sync-C, Sync-D."""
    cc = mfcc(np.asarray(audio16k, np.float64) * 32768.0)  # int16 scale, as syncnet_python reads wav files
    length = min(len(crops), len(audio16k) // 640)
    last = length - 5
    if last < 1:
        raise MetricError(f"syncnet: needs > 5 frames with audio, got {len(crops)} frames, {len(audio16k)} samples")
    device = next(model.parameters()).device
    video = torch.from_numpy(np.ascontiguousarray(crops[:length])).float().permute(3, 0, 1, 2)  # (3, T, 224, 224)
    mf = torch.from_numpy(cc).float()  # (13, M)
    im_feat, cc_feat = [], []
    for start in range(0, last, batch_size):
        idx = range(start, min(last, start + batch_size))
        lips = torch.stack([video[:, i : i + 5] for i in idx]).to(device)  # (b, 3, 5, 224, 224)
        auds = torch.stack([mf[None, :, 4 * i : 4 * i + 20] for i in idx]).to(device)  # (b, 1, 13, 20)
        im_feat.append(model.forward_lip(lips).cpu())
        cc_feat.append(model.forward_aud(auds).cpu())
    im, au = torch.cat(im_feat), torch.cat(cc_feat)  # (L, D)
    au_pad = torch.nn.functional.pad(au, (0, 0, vshift, vshift))  # (L + 2 vshift, D), zeros outside
    win = 2 * vshift + 1
    windows = au_pad.unfold(0, win, 1)[: len(im)]  # (L, D, win)
    dists = torch.linalg.vector_norm(im[:, :, None] - windows + 1e-6, dim=1)  # (L, win), like pairwise_distance
    mean = dists.mean(0)  # (win,)
    minval, minidx = mean.min(0)
    return {
        "offset": float(vshift - int(minidx)),
        "sync_c": float(mean.median() - minval),
        "sync_d": float(minval),
    }
