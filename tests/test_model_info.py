"""scripts/model_info.py prints the per-component counts and FLOPs; the FLOP formula agrees with a real count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from omnitalker.models.config import FUSION_KINDS
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.models.flops import analytic_forward_flops, counted_forward_flops

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("fusion", FUSION_KINDS)
def test_flop_formula_matches_counter(fusion):
    with torch.device("meta"):
        model = OmniTalkerDiT(tiny_config(fusion=fusion))
    for frames in (50, 300):
        formula, counted = analytic_forward_flops(model, frames, 2), counted_forward_flops(model, frames, 2)
        assert abs(formula - counted) / counted < 0.01


def test_model_info_script_prints_counts_and_flops():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/model_info.py"), "model=omnitalker_0.8b", "generated_seconds=10"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "fusion_blocks" in out.stdout and "TFLOPs" in out.stdout
    total = int(next(line for line in out.stdout.splitlines() if line.startswith("total")).split()[1].replace(",", ""))
    assert 0.76e9 <= total <= 0.84e9
