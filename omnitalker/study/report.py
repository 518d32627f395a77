"""results.json of the study -> the markdown tables of docs/results_synthetic.md (every number from the file)."""

from __future__ import annotations

import math

ROW_LABELS = {"mm_attention": "MM-attention (paper)", "cross_attention": "cross-attention", "linear": "linear",
              "add": "add", "none": "none (no fusion: control)"}
SYSTEM_LABELS = {"ground_truth": "ground truth (ceiling)", "copy_reference": "copy the reference (baseline)",
                 "population_mean": "population mean (chance)", "full": "model, full conditions",
                 "no_ref": "model, no reference (control)", "no_guidance": "model, guidance off"}


def row_label(row: str) -> str:
    name, _, step = row.partition("@")
    return ROW_LABELS.get(name, name) + (f", checkpoint of step {step}" if step else "")


def _f(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"


def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f} %"


def _systems(results: dict) -> list[tuple[str, dict]]:
    main = results["rows"].get(results["main_row"], {}).get("conditions", {})
    out = [(SYSTEM_LABELS[k], v) for k, v in results["baselines"].items()]
    out += [(SYSTEM_LABELS[k], v) for k, v in main.items()]
    return out


def style_table(results: dict) -> str:
    lines = ["| system | speaker ID, dynamic | speaker ID, static | speaker ID, all | P-FID same / other (nearest=same) "
             "| E-FID same / other (nearest=same) |", "|---|---|---|---|---|---|"]
    for label, s in _systems(results):
        ident, fp, fe = s["identification"], s["frechet_pose"], s["frechet_expression"]
        lines.append(
            f"| {label} | {_pct(ident['dynamic']['accuracy'])} (p={_f(ident['dynamic']['p_value'], 3)}) "
            f"| {_pct(ident['static']['accuracy'])} | {_pct(ident['all']['accuracy'])} "
            f"| {_f(fp['same'], 4)} / {_f(fp['other'], 4)} ({_pct(fp['nearest_is_same'])}) "
            f"| {_f(fe['same'], 3)} / {_f(fe['other'], 3)} ({_pct(fe['nearest_is_same'])}) |")
    return "\n".join(lines)


def tracking_table(results: dict) -> str:
    names = list(next(iter(results["baselines"].values()))["features"])[:8]
    lines = ["| system | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, s in _systems(results):
        if s.get("tracking"):
            lines.append(f"| {label} | " + " | ".join(_f(s["tracking"][n]) for n in names) + " |")
    return "\n".join(lines)


def sync_text_table(results: dict) -> str:
    lines = ["| system | sync r (own mouth vs own audio) | r, shuffled pairs (chance) | mean lag (frames) | "
             "mean abs lag | voiceprint speaker ID | DTW mel distance to ground truth |",
             "|---|---|---|---|---|---|---|"]
    for label, s in _systems(results):
        sy = s["sync"]
        lines.append(f"| {label} | {_f(sy['r'])} | {_f(sy['shuffled_r'])} | {_f(sy['lag'], 1)} | "
                     f"{_f(sy['abs_lag'], 1)} | {_pct(s['identification']['voiceprint']['accuracy'])} | "
                     f"{_f(s['dtw_mel'])} |")
    return "\n".join(lines)


def voice_table(results: dict) -> str:
    voice = results.get("voice") or {}
    if not voice:
        return "(voice scoring was off: `voice=false`)"
    lines = ["| system | WER (tiny.en, English items) | resemblyzer cos, same / other speakers | F0 r vs target "
             "| F0 abs error (Hz) |", "|---|---|---|---|---|"]
    for key, v in voice.items():
        lines.append(f"| {SYSTEM_LABELS.get(key, key)} | {_pct(v['wer_en'])} ({v['wer_items']} items) | "
                     f"{_f(v.get('sim_same_speaker'))} / {_f(v.get('sim_other_speakers'))} | {_f(v.get('f0_r'))} | "
                     f"{_f(v.get('f0_abs_error_hz'), 1)} |")
    return "\n".join(lines)


def ablation_table(results: dict) -> str:
    lines = ["| fusion | steps | wall clock | loss first→last 50 steps | sync r | abs lag | speaker ID dynamic | "
             "P-FID same/other | DTW mel |", "|---|---|---|---|---|---|---|---|---|"]
    for row, r in results["rows"].items():
        s = r["conditions"].get("full")
        if s is None:
            continue
        t = r["run"]
        lines.append(
            f"| {row_label(row)} | {t['step']} | {_f(t['wall_clock_s'] / 60, 1)} min | "
            f"{_f(t['loss_first'])}→{_f(t['loss_last'])} | {_f(s['sync']['r'])} | {_f(s['sync']['abs_lag'], 1)} | "
            f"{_pct(s['identification']['dynamic']['accuracy'])} | "
            f"{_f(s['frechet_pose']['same'], 4)}/{_f(s['frechet_pose']['other'], 4)} | {_f(s['dtw_mel'])} |")
    return "\n".join(lines)
