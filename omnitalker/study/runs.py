"""Training runs of the study: one ``scripts/train.py experiment=study`` run per row, read back (step, wall clock,
loss curve) for the results page."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from omnitalker.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parents[2]


def run_dir(runs_dir: str | Path, row: str) -> Path:
    """A row is a run name, or ``name@step`` for that run's intermediate checkpoint (a learning-curve point)."""
    return Path(runs_dir) / row.split("@")[0]


def row_checkpoint(runs_dir: str | Path, row: str) -> Path:
    name, _, step = row.partition("@")
    ckpt = f"step_{int(step):08d}.ckpt" if step else "last.ckpt"
    return Path(runs_dir) / name / "checkpoints" / ckpt


def checkpoint_step(path: Path) -> int:
    """Global step of a Lightning checkpoint (read with weights_only=True); -1 when there is none."""
    if not path.is_file():
        return -1
    return int(read_checkpoint(path).get("global_step", -1))


def train_row(row: str, steps: int, root_dir: str, corpus: str, overrides: list[str], experiment: str = "study") -> None:
    """Train (or resume) row ``row`` to ``steps`` steps: the same command a user runs for one row."""
    cmd = [sys.executable, str(REPO / "scripts" / "train.py"), f"experiment={experiment}", f"run_name={row}",
           f"model.arch.fusion={row}", f"trainer.max_steps={steps}", f"paths.root_dir={root_dir}",
           f"data.corpus={corpus}/corpus", *overrides]
    print("+", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def loss_curve(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, train/loss) from the run's CSV log (the last value per step when a resumed run logged it twice)."""
    path = run / "csv" / "metrics.csv"
    if not path.is_file():
        return np.zeros(0), np.zeros(0)
    by_step: dict[int, float] = {}
    with path.open() as f:
        for rec in csv.DictReader(f):
            if rec.get("train/loss"):
                by_step[int(rec["step"])] = float(rec["train/loss"])
    steps = np.array(sorted(by_step))
    return steps, np.array([by_step[s] for s in steps])


def run_summary(run: Path, ckpt: Path) -> dict:
    """Step of ``ckpt``, wall clock (run start = its config.yaml, end = the checkpoint file) and the mean loss of
    the first and last 50 logged steps up to the checkpoint."""
    steps, loss = loss_curve(run)
    step = checkpoint_step(ckpt)
    steps, loss = steps[steps <= step], loss[steps <= step]
    wall = ckpt.stat().st_mtime - (run / "config.yaml").stat().st_mtime if ckpt.is_file() else float("nan")
    return {"step": step, "wall_clock_s": wall,
            "loss_first": float(loss[steps < steps[0] + 50].mean()) if loss.size else float("nan"),
            "loss_last": float(loss[steps > steps[-1] - 50].mean()) if loss.size else float("nan")}
