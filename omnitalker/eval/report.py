"""report.md from one or several runs' metrics.json, laid out as the paper's tables (one row per system):

- Table 1 (audio): WER(%) | SIM-A | DNSMOS (an extra of the issue, not in the paper)
- Table 2 (video): FVD | CSIM | Sync-C | E-FID | P-FID | FPS
- Table 4 (ablation): WER(%) | SIM-A | Sync-C | E-FID | P-FID
then motion-style statistics, speed per stage, and which model produced each number (metric ``info``).
A cell is "—" when the metric was not run (or not measurable) for that system.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

# (header, metric name, keys tried in order in that metric's aggregated values, scale)
COLUMNS: dict[str, tuple[str, str, tuple[str, ...], float]] = {
    "wer": ("WER(%)", "wer", ("wer", "cer"), 100.0),
    "sim_a": ("SIM-A", "sim_a", ("sim_a",), 1.0),
    "dnsmos": ("DNSMOS", "dnsmos", ("dnsmos_ovrl",), 1.0),
    "fvd": ("FVD", "fvd", ("fvd",), 1.0),
    "csim": ("CSIM", "csim", ("csim",), 1.0),
    "sync_c": ("Sync-C", "syncnet", ("sync_c",), 1.0),
    "sync_l": ("Sync-L r (landmark, not Sync-C)", "sync_landmark", ("sync_landmark_peak",), 1.0),
    "efid": ("E-FID", "efid", ("efid",), 1.0),
    "pfid": ("P-FID", "pfid", ("pfid",), 1.0),
    "fps": ("FPS", "", ("fps_end_to_end",), 1.0),
}
TABLES = (
    ("Table 1: audio generation", ("wer", "sim_a", "dnsmos")),
    ("Table 2: video generation", ("fvd", "csim", "sync_c", "sync_l", "efid", "pfid", "fps")),
    ("Table 4: fusion ablation layout", ("wer", "sim_a", "sync_c", "efid", "pfid")),
)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def cell(summary: dict, column: str) -> float | None:
    _, metric, keys, scale = COLUMNS[column]
    values = summary.get("speed", {}) if not metric else summary.get("metrics", {}).get(metric, {}).get("values", {})
    for key in keys:
        if key in values and values[key] is not None:
            return float(values[key]) * scale
    return None


def _row_name(summary: dict) -> str:
    return summary.get("label") or summary.get("system", "?")


def _table(summaries: list[dict], columns: tuple[str, ...]) -> list[str]:
    present = [c for c in columns if any(cell(s, c) is not None for s in summaries)] or list(columns)
    lines = ["| System | " + " | ".join(COLUMNS[c][0] for c in present) + " |",
             "|---|" + "---|" * len(present)]
    for s in summaries:
        lines.append(f"| {_row_name(s)} | " + " | ".join(_fmt(cell(s, c)) for c in present) + " |")
    return lines


def _motion(summaries: list[dict]) -> list[str]:
    rows = [(s, s["metrics"]["motion"]["values"]) for s in summaries if s.get("metrics", {}).get("motion", {}).get(
        "values")]
    if not rows:
        return []
    stats = sorted({k[4:] for _, v in rows for k in v if k.startswith("gen_")})
    lines = ["", "## Motion style (means over items; reference = the style prompt)", "",
             "| System | statistic | reference | generated | mean abs. difference |", "|---|---|---|---|---|"]
    for s, v in rows:
        for stat in stats:
            lines.append(f"| {_row_name(s)} | {stat} | {_fmt(v.get('ref_' + stat), 2)} | "
                         f"{_fmt(v.get('gen_' + stat), 2)} | {_fmt(v.get('abs_diff_' + stat), 2)} |")
    return lines


def _details(summaries: list[dict]) -> list[str]:
    lines = ["", "## Metrics: models, options, coverage", "",
             "| System | metric | info | items measured | failed (first reason) |", "|---|---|---|---|---|"]
    for s in summaries:
        for name, m in s.get("metrics", {}).items():
            info = ", ".join(f"{k}={v}" for k, v in {**m.get("info", {})}.items()) or "—"
            errors = m.get("errors", {})
            first = f"{len(errors)} ({next(iter(errors.values()))})" if errors else "0"
            lines.append(f"| {_row_name(s)} | {name} | {info} | {m.get('measured', 0)}/{s.get('items', '?')} | "
                         f"{first.replace('|', '/')} |")
    for s in summaries:
        for item_id, reason in s.get("failed_items", {}).items():  # not generated / not loadable: no metric ran
            lines.append(f"| {_row_name(s)} | (item {item_id}) | {reason.replace('|', '/')} | 0 | all |")
    speed = [(s, s.get("speed")) for s in summaries if s.get("speed")]
    if speed:
        lines += ["", "## Speed (through the real pipeline; frames / seconds summed over items)", "",
                  "| System | " + " | ".join(sorted(speed[0][1])) + " |", "|---|" + "---|" * len(speed[0][1])]
        for s, sp in speed:
            lines.append(f"| {_row_name(s)} | " + " | ".join(_fmt(sp.get(k), 2) for k in sorted(speed[0][1])) + " |")
    return lines


def render_report(summaries: list[dict]) -> str:
    testsets = sorted({s.get("testset", "") for s in summaries})
    lines = ["# Evaluation report", "", (f"Test set: {', '.join(testsets)}; systems: "
             f"{', '.join(_row_name(s) for s in summaries)}."), ""]
    for title, columns in TABLES:
        lines += [f"## {title}", "", *_table(summaries, columns), ""]
    lines += _motion(summaries) + _details(summaries)
    plots = [p for s in summaries for p in s.get("plots", [])]
    if plots:
        lines += ["", "## Figures", ""] + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(summaries: dict | list[dict], path: str | Path) -> Path:
    path = Path(path)
    text = render_report([summaries] if isinstance(summaries, dict) else summaries)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def compare(run_dirs: list[str | Path], out: str | Path) -> Path:
    """One report.md whose rows are several runs (a model and its baselines), each labelled by its directory."""
    summaries = []
    for d in run_dirs:
        path = Path(d) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (run scripts/evaluate.py with out={d} first)")
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["label"] = f"{summary.get('system')} ({Path(d).name})"
        summary.pop("plots", None)
        summaries.append(summary)
    Path(out).mkdir(parents=True, exist_ok=True)
    return write_report(summaries, Path(out) / "report.md")
