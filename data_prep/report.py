"""Summary of a data-preparation run: counts, rejection reasons and distribution plots (cf. paper Figure 5)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

PLOTTED = {
    "duration": "clip duration (s)",
    "text_length": "transcript length (characters)",
    "dnsmos_ovrl": "DNSMOS OVRL",
    "face_area": "face box area / frame area",
}


def summarize(out: str | Path) -> dict:
    """Read done/*.json and rejections/*.jsonl under `out`, write summary.json and plots/*.png; return the summary."""
    out = Path(out)
    done = [json.loads(p.read_text()) for p in sorted((out / "done").glob("*.json"))]
    rejections = []
    for p in sorted((out / "rejections").glob("*.jsonl")):
        rejections += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    clips = [c for d in done for c in d["clips"]]
    reasons = Counter(r["reason"] for r in rejections)
    summary = {
        "videos_done": len(done),
        "videos_with_clips": sum(1 for d in done if d["clips"]),
        "clips": len(clips),
        "hours": round(sum(c["duration"] for c in clips) / 3600, 4),
        "rejections": len(rejections),
        "rejection_reasons": dict(reasons.most_common()),
        "seconds_total": round(sum(d["seconds"] for d in done), 1),
        "distributions": {},
    }
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for key, label in PLOTTED.items():
        values = np.array([c[key] for c in clips if key in c and np.isfinite(c[key])], dtype=float)
        if values.size:
            summary["distributions"][key] = {
                "mean": float(values.mean()),
                "p5": float(np.percentile(values, 5)),
                "median": float(np.median(values)),
                "p95": float(np.percentile(values, 95)),
            }
        fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
        ax.hist(values, bins=max(5, min(40, values.size // 2 or 1)), color="#4477aa")
        ax.set_xlabel(label)
        ax.set_ylabel("clips")
        ax.set_title(f"{key} (n={values.size})")
        fig.tight_layout()
        fig.savefig(plots / f"{key}.png")
        plt.close(fig)
    if reasons:
        fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
        names, counts = zip(*reasons.most_common())
        ax.barh(names, counts, color="#aa4444")
        ax.set_xlabel("rejections")
        fig.tight_layout()
        fig.savefig(plots / "rejections.png")
        plt.close(fig)
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(out / "summary.json")
    return summary
