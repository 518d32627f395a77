"""Driver of the GPU report: every section runs in its own Python process with its own time limit (a hung
compilation or an out-of-memory error loses that section only), then one ``gpu_report.json`` and one
``gpu_report.md`` are written from whatever the sections returned.

    python scripts/gpu_report.py --out-dir gpu_report            # paper sizes, on the GPU (scripts/gpu_report.sh)
    python scripts/gpu_report.py --smoke --out-dir /tmp/report   # tiny sizes on a CPU, seconds per section
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from omnitalker.gpu_report.settings import ROOT, SECTIONS, ReportSettings, settings_for

TOTAL_LIMIT_S = 570  # the whole report, sections included: under 10 minutes on a lent GPU


def run_section(name: str, settings: ReportSettings, device: torch.device, assets: Path) -> dict[str, Any]:
    """One section in this process (called in the section's own subprocess)."""
    if name in ("end_to_end", "streaming"):
        from omnitalker.gpu_report import pipeline_sections

        return getattr(pipeline_sections, name)(settings, device, assets)
    from omnitalker.gpu_report import sections

    return getattr(sections, name)(settings, device)


def _section_main(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if device.type == "cpu":  # the smoke run: tiny sizes gain nothing from threads, and a shared box loses a lot
        torch.set_num_threads(int(os.environ.get("GPU_REPORT_THREADS", "1")))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    start = time.perf_counter()
    result = run_section(args.section, settings_for(args.smoke), device, Path(args.assets))
    result["wall_s"] = time.perf_counter() - start
    tmp = Path(args.json).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str))
    tmp.replace(args.json)


def spawn(name: str, args: argparse.Namespace, work: Path, limit: float) -> dict[str, Any]:
    """The section in a subprocess; its JSON, or ``{"error": ...}`` on failure / ``{"timeout": limit}``."""
    out = work / f"{name}.json"
    log = work / f"{name}.log"
    cmd = [sys.executable, "-m", "omnitalker.gpu_report.report", "--section", name, "--json", str(out),
           "--device", args.device, "--assets", str(work / "assets"), *(["--smoke"] if args.smoke else [])]
    rows = work / f"{name}.rows.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "GPU_REPORT_ROWS": str(rows)}
    start = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        try:
            code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the section's own process group: its compile workers too
            proc.wait()
            return {"timeout_s": limit, "wall_s": time.perf_counter() - start, "rows": _rows(rows),
                    "log_tail": _tail(log)}
    if code != 0 or not out.is_file():
        return {"error": f"exit code {code}", "wall_s": time.perf_counter() - start, "rows": _rows(rows),
                "log_tail": _tail(log)}
    return json.loads(out.read_text())


def _rows(path: Path) -> list[dict[str, Any]]:
    """Rows a section finished before it was stopped."""
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []


def _tail(path: Path, lines: int = 8) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def environment(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(), "device": device,
                            "cpu_threads": torch.get_num_threads(), "machine": platform.machine()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


TABLE_COLUMNS = {
    "dit_sampling": ("cfg_mode", "bf16", "compile", "fps", "real_time_factor", "tflops_per_s", "mfu", "warmup_s"),
    "renderer": ("sizes", "bf16", "compile", "fps", "ms_per_frame", "tflop_per_frame", "tflops_per_s"),
    "training": ("bf16", "compile", "batch", "frames_per_sample", "frames_per_s", "tflops_per_s", "mfu",
                 "peak_memory_gb"),
    "end_to_end": ("variant", "precision", "fps", "real_time_factor", "warmup_s", "frames", "dit_s", "vocoder_s",
                   "renderer_s", "mux_s", "reference_s"),
    "streaming": ("first_chunk_s", "total_s", "chunks", "frames", "real_time_factor"),
}


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [f"# GPU report ({'smoke, tiny sizes' if report['smoke'] else 'paper sizes'})", "",
             f"Device: {env.get('gpu', env['device'])}; torch {env['torch']}; written by `scripts/gpu_report.sh` in "
             f"{report['wall_s']:.0f} s. Settings: `{json.dumps(report['settings'], sort_keys=True)}`", ""]
    for name in SECTIONS:
        section = report["sections"][name]
        lines += [f"## {name} ({section.get('wall_s', 0):.0f} s)", ""]
        for key in ("timeout_s", "error", "skipped"):
            if key in section:
                lines += [f"**{key}**: {section[key]}", ""]
        rows = section.get("rows", [])
        if rows:
            cols = TABLE_COLUMNS[name]
            lines += ["| " + " | ".join(cols) + " | error |", "|" + "---|" * (len(cols) + 1)]
            lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + f" | {r.get('error', '')} |" for r in rows]
            lines.append("")
    return "\n".join(lines)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (a few seconds per section)")
    p.add_argument("--device", default=None, help="default: cuda when available (cpu with --smoke)")
    p.add_argument("--out-dir", default="gpu_report", help="gpu_report.json, gpu_report.md and section logs")
    p.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    p.add_argument("--total-limit", type=float, default=TOTAL_LIMIT_S, help="seconds for the whole report")
    p.add_argument("--keep-assets", action="store_true", help="keep the random-weight models written for the run")
    p.add_argument("--section", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    p.add_argument("--assets", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.device = args.device or ("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    if args.section:
        _section_main(args)
        return {}
    signal.signal(signal.SIGTERM, _terminate)  # an outer `timeout` still gets the JSON/markdown written
    settings = settings_for(args.smoke)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu_report_"))  # assets (GBs at paper size) stay out of out_dir
    start = time.perf_counter()
    report: dict[str, Any] = {"smoke": args.smoke, "settings": settings.to_dict(),
                              "environment": environment(args.device), "sections": {}}
    try:
        for i, name in enumerate(SECTIONS):
            if name not in args.sections:
                report["sections"][name] = {"skipped": "not asked for (--sections)", "rows": []}
                continue
            left = args.total_limit - (time.perf_counter() - start)
            reserve = 10.0 * sum(1 for later in SECTIONS[i + 1:] if later in args.sections)
            limit = min(settings.limits[name], max(left - reserve, 1.0))
            print(f"[gpu_report] {name}: limit {limit:.0f} s", flush=True)
            report["sections"][name] = spawn(name, args, work, limit)
            shutil.copy(work / f"{name}.log", out_dir / f"{name}.log")
    finally:
        if not args.keep_assets:
            shutil.rmtree(work / "assets", ignore_errors=True)
        report["wall_s"] = time.perf_counter() - start
        (out_dir / "gpu_report.json").write_text(json.dumps(report, indent=2, default=str))
        (out_dir / "gpu_report.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
