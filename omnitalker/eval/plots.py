"""The paper's motion-style figures from the ``motion`` metric's cached tracks (matplotlib, Agg backend):

- ``head_heatmap.png`` (Fig. 3): cumulative 2-D histogram of head yaw x pitch over all frames, reference vs generated;
- ``yaw_tracks.png`` (Fig. 2): yaw over time, reference (red, left) and generated (right), per item;
- ``gaze_tracks.png`` (Fig. 9): gaze yaw / pitch (mean of both eyes) over time, reference vs generated, per item.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnitalker.eval.metric import Measurement

SIDES = ("reference", "generated")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _degrees(m: Measurement, side: str, key: str) -> np.ndarray:
    return np.degrees(np.asarray(m.arrays[f"{side}_{key}"], np.float64))


def _time(m: Measurement, side: str, n: int) -> np.ndarray:
    return np.arange(n) / float(m.arrays[f"{side}_fps"][0])


def head_heatmap(measurements: dict[str, Measurement], path: Path, bins: int = 41) -> Path:
    plt = _pyplot()
    pose = {s: np.concatenate([_degrees(m, s, "pose")[:, :2] for m in measurements.values()]) for s in SIDES}
    both = np.concatenate(list(pose.values()))  # (N, 2) yaw, pitch
    lim = max(5.0, float(np.percentile(np.abs(both), 99.5)))
    edges = np.linspace(-lim, lim, bins + 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharey=True)
    for ax, side in zip(axes, SIDES):
        hist, _, _ = np.histogram2d(pose[side][:, 0], pose[side][:, 1], bins=(edges, edges))
        ax.imshow(np.log1p(hist.T), origin="lower", extent=(-lim, lim, -lim, lim), cmap="magma", aspect="equal")
        ax.set_title(f"{side} ({pose[side].shape[0]} frames)")
        ax.set_xlabel("yaw (deg)")
    axes[0].set_ylabel("pitch (deg)")
    fig.suptitle("Cumulative head motion (log count)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _tracks(measurements: dict[str, Measurement], path: Path, key: str, columns: dict[str, list[int]],
            title: str, max_items: int) -> Path:
    plt = _pyplot()
    ids = sorted(measurements)[:max_items]
    fig, axes = plt.subplots(len(ids), 2, figsize=(10, 2.2 * len(ids)), squeeze=False)
    for row, item_id in enumerate(ids):
        m = measurements[item_id]
        for col, side in enumerate(SIDES):
            ax = axes[row, col]
            values = _degrees(m, side, key)
            t = _time(m, side, values.shape[0])
            for label, idx in columns.items():
                color = "red" if side == "reference" and len(columns) == 1 else None
                ax.plot(t, values[:, idx].mean(axis=1), label=label, color=color, lw=1)
            ax.set_title(f"{item_id}: {side}", fontsize=9)
            ax.set_ylabel("deg")
            if len(columns) > 1:
                ax.legend(fontsize=7, loc="upper right")
        axes[row, 1].sharey(axes[row, 0])
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def make_plots(measurements: dict[str, Measurement], out_dir: str | Path, max_items: int = 4) -> list[Path]:
    """Write the three figures for the items' ``motion`` measurements; returns their paths ([] if none)."""
    if not measurements:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        head_heatmap(measurements, out / "head_heatmap.png"),
        _tracks(measurements, out / "yaw_tracks.png", "pose", {"yaw": [0]}, "Head yaw: reference vs generated",
                max_items),
        _tracks(measurements, out / "gaze_tracks.png", "gaze", {"gaze yaw": [0, 2], "gaze pitch": [1, 3]},
                "Gaze: reference vs generated", max_items),
    ]
