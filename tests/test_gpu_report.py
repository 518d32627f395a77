"""The prepared GPU report runs end to end at tiny sizes on the CPU (``--smoke``) and writes one JSON and one
markdown table with every section measured; a section that runs out of time is recorded as such and the report is
still written."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from omnitalker.gpu_report.settings import SECTIONS
from omnitalker.inference.pipeline import OmniTalkerPipeline

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = {  # per section: the columns every row must carry as positive finite numbers
    "dit_sampling": ("fps", "real_time_factor", "tflops_per_s", "seconds"),
    "renderer": ("fps", "ms_per_frame", "tflop_per_frame"),
    "training": ("frames_per_s", "step_s", "tflops_per_s"),
    "end_to_end": ("fps", "real_time_factor", "dit_s", "renderer_s", "vocoder_s", "mux_s"),
    "streaming": ("first_chunk_s", "total_s"),
}


def run_report(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_report.py"), "--smoke", "--out-dir", str(out),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=900)


def positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_smoke_report_has_every_section_with_numbers(tmp_path):
    proc = run_report(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_report.json").read_text())
    markdown = (tmp_path / "gpu_report.md").read_text()
    assert report["smoke"] is True and set(report["sections"]) == set(SECTIONS)
    for name in SECTIONS:
        section = report["sections"][name]
        assert f"## {name}" in markdown
        if name == "streaming" and not hasattr(OmniTalkerPipeline, "stream"):
            assert "stream" in section["skipped"] and "skipped" in markdown
            continue
        assert "error" not in section and "timeout_s" not in section, (name, section)
        assert section["rows"], name
        for row in section["rows"]:
            assert "error" not in row, (name, row)
            for column in NUMBERS[name]:
                assert positive_number(row.get(column)), (name, column, row)
    # the sampling rows cover both guidance modes; the renderer rows the lean and the pre-budget sizes
    assert {r["cfg_mode"] for r in report["sections"]["dit_sampling"]["rows"]} == {"full", "two_pass"}
    assert {r["sizes"] for r in report["sections"]["renderer"]["rows"]} == {"budget", "full"}
    rows = report["sections"]["renderer"]["rows"]
    full, lean = (next(r for r in rows if r["sizes"] == s) for s in ("full", "budget"))
    assert lean["tflop_per_frame"] < full["tflop_per_frame"]
    # the markdown table shows the measured numbers, not placeholders
    fps = report["sections"]["end_to_end"]["rows"][0]["fps"]
    assert f"{fps:.3g}" in markdown


def test_a_section_out_of_time_is_recorded_and_the_report_still_written(tmp_path):
    proc = run_report(tmp_path, "--sections", "training", "--total-limit", "1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_report.json").read_text())
    assert report["sections"]["training"]["timeout_s"] == pytest.approx(1.0)
    assert report["sections"]["training"]["rows"] == []
    for name in set(SECTIONS) - {"training"}:
        assert "not asked for" in report["sections"][name]["skipped"]
    assert "**timeout_s**: 1" in (tmp_path / "gpu_report.md").read_text()
