"""Generate every held-out study item under the study's conditions, cached per item (a rerun resumes).

Conditions (the same checkpoint, the same seeds):
  full        reference audio + visual in context, the checkpoint's guidance (multi-condition CFG)
  no_ref      reference audio and visual dropped (context zeroed, exactly the training-time drop): the control
  no_guidance the full context, guidance off (cfg_mode none)
Every item is generated for the ground truth's own length (oracle duration), so text and style measures compare
equal spans; the duration rule's own error is measured separately against the ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from omnitalker.checkpoint import load_dit
from omnitalker.data.resample import codes_to_video_rate
from omnitalker.flow.sampler import SamplerConfig
from omnitalker.inference.generator import DiTGenerator
from omnitalker.study.items import StudyItem

CONDITIONS = ("full", "no_ref", "no_guidance")


def _sampler(meta: dict, condition: str, overrides: dict | None) -> SamplerConfig:
    values = {**meta.get("sampler", {}), **(overrides or {})}
    if condition == "no_guidance":
        values["cfg_mode"] = "none"
    return SamplerConfig.from_dict(values)


def generate_items(checkpoint: str | Path, items: list[StudyItem], out_dir: str | Path,
                   conditions: tuple[str, ...] = CONDITIONS, seed: int = 0, sampler: dict | None = None,
                   progress: bool = True) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Returns ``{condition: {item_id: {"mel": (n, 100), "codes": (T, 61) at the item's video rate}}}``; each
    result is written to ``out_dir/condition/item_id.npz`` and read back on a rerun."""
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown study conditions {sorted(unknown)}; choose from {CONDITIONS}")
    loaded = load_dit(checkpoint)
    torch.manual_seed(seed)
    results: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for condition in conditions:
        gen = DiTGenerator(loaded, _sampler(loaded.meta, condition, sampler), "cpu")
        folder = Path(out_dir) / condition
        folder.mkdir(parents=True, exist_ok=True)
        results[condition] = {}
        for k, item in enumerate(tqdm(items, desc=f"generate {condition}", disable=not progress)):
            path = folder / f"{item.item_id}.npz"
            if not path.is_file():
                ref_mel = torch.from_numpy(item.ref_mel).float()  # (n_ref, 100)
                ref_codes = torch.from_numpy(item.ref_codes).float()  # (n_ref, 61)
                if condition == "no_ref":
                    ref_mel, ref_codes = torch.zeros_like(ref_mel), None
                out = gen.generate(ref_mel, ref_codes, item.ref_text, [item.text], [item.gt_mel.shape[0]],
                                   seed=seed + k)[0]
                video = codes_to_video_rate(out.codes.float(), item.fps, item.gt_codes.shape[0]).numpy()  # (T, 61)
                tmp = path.with_name(path.stem + ".part.npz")
                np.savez(tmp, mel=out.mel.float().numpy(), codes=video)
                tmp.replace(path)
            with np.load(path, allow_pickle=False) as data:
                results[condition][item.item_id] = {"mel": data["mel"], "codes": data["codes"]}
    return results
