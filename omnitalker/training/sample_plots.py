"""Figures comparing a generated sample with the ground truth: mel images, head-pose and blendshape curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from omnitalker.constants import BLENDSHAPE_NAMES, MEL_FPS, POSE_NAMES, POSE_SLICE

CURVES = ("jawOpen", "mouthFunnel", "eyeBlinkLeft", "mouthSmileLeft")


def sample_figure(
    mel_true: np.ndarray, mel_gen: np.ndarray, codes_true: np.ndarray, codes_gen: np.ndarray, reference_frames: int,
    title: str = "",
) -> plt.Figure:
    """mel (n, 100) and denormalised codes (n, 61) at the mel rate; the reference region is shaded."""
    t = np.arange(len(mel_true)) / MEL_FPS
    fig, axes = plt.subplots(4, 1, figsize=(11, 10), constrained_layout=True)
    extent = (0, t[-1] if len(t) else 1, 0, mel_true.shape[1])
    for ax, mel, name in ((axes[0], mel_true, "ground truth"), (axes[1], mel_gen, "generated")):
        ax.imshow(mel.T, origin="lower", aspect="auto", extent=extent, cmap="magma")
        ax.axvline(reference_frames / MEL_FPS, color="cyan", lw=1)
        ax.set_ylabel(f"mel ({name})")
    pose = POSE_SLICE.start
    for k, color in zip(range(3), ("C0", "C1", "C2")):
        axes[2].plot(t, codes_true[:, pose + k], color=color, lw=1, label=f"{POSE_NAMES[k]} true")
        axes[2].plot(t, codes_gen[:, pose + k], color=color, lw=1, ls="--", label=f"{POSE_NAMES[k]} gen")
    axes[2].set_ylabel("head rotation (rad)")
    axes[2].legend(ncol=3, fontsize=7)
    for k, name in enumerate(CURVES):
        idx = BLENDSHAPE_NAMES.index(name)
        axes[3].plot(t, codes_true[:, idx], color=f"C{k}", lw=1, label=f"{name} true")
        axes[3].plot(t, codes_gen[:, idx], color=f"C{k}", lw=1, ls="--", label=f"{name} gen")
    axes[3].set_ylabel("blendshape")
    axes[3].set_xlabel("time (s); reference left of the cyan line / shaded")
    axes[3].legend(ncol=4, fontsize=7)
    for ax in axes[2:]:
        ax.axvspan(0, reference_frames / MEL_FPS, color="0.9")
    fig.suptitle(title)
    return fig
