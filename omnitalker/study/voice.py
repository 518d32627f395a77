"""Voice and intelligibility of generated speech (the study's main row): each mel is turned into audio with
Griffin-Lim (the ground truth too, so both pass the same decoder), then median F0 (pYIN), a resemblyzer speaker
embedding, and for English items a transcript by the offline tiny.en recogniser (WER)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from omnitalker.constants import SAMPLE_RATE
from omnitalker.eval.audio_clips import resample
from omnitalker.eval.speaker import ResemblyzerEmbedder, cosine
from omnitalker.eval.textnorm import edit_counts, normalize
from omnitalker.study.features import median_f0
from omnitalker.study.items import StudyItem
from omnitalker.vocoder import load_vocoder


class VoiceScorer:
    def __init__(self, asr: bool = True) -> None:
        self.vocoder = load_vocoder("griffin_lim")
        self.embedder = ResemblyzerEmbedder()
        self.wer = None
        if asr:
            from omnitalker.eval.wer import WerMetric

            self.wer = WerMetric()

    def describe(self, mel: np.ndarray, text: str, language: str) -> dict:
        audio = self.vocoder.decode(torch.from_numpy(mel).float()[None])[0].numpy()  # (samples,) at 24 kHz
        audio_16k = resample(audio, SAMPLE_RATE, 16000)
        out = {"f0": median_f0(audio, SAMPLE_RATE), "embedding": self.embedder.embed(audio_16k)}
        if self.wer is not None and language == "en":
            ref = normalize(text, "en", "seedtts")
            hyp = normalize(self.wer.transcribe(audio_16k, "en"), "en", "seedtts")
            out["wer"] = edit_counts(ref, hyp).rate
        return out


def voice_scores(scorer: VoiceScorer, items: list[StudyItem], outputs: dict[str, dict[str, np.ndarray]],
                 truth: dict[str, dict] | None, progress: bool = True,
                 desc: dict[str, dict] | None = None, cache: Path | None = None) -> tuple[dict, dict[str, dict]]:
    """Scores of one system against the ground truth's descriptions ``truth`` (None: only describe). ``desc``:
    this system's descriptions when already made; ``cache``: a JSON file holding them across runs (the outputs of
    a system are cached too, so its descriptions cannot change). Returns (summary, per-item descriptions)."""
    if desc is None and cache is not None and cache.is_file():
        desc = {k: {**v, "embedding": np.asarray(v["embedding"], np.float32)}
                for k, v in json.loads(cache.read_text()).items()}
    if desc is None or set(desc) != {it.item_id for it in items}:
        desc = {it.item_id: scorer.describe(outputs[it.item_id]["mel"], it.text, it.language)
                for it in tqdm(items, desc="voice", disable=not progress)}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({k: {**v, "embedding": v["embedding"].tolist()} for k, v in desc.items()}))
    wers = [d["wer"] for d in desc.values() if "wer" in d]
    summary: dict = {"wer_en": float(np.mean(wers)) if wers else float("nan"), "wer_items": len(wers)}
    if truth is None:
        return summary, desc
    by_speaker = defaultdict(list)
    for it in items:
        by_speaker[it.speaker].append(truth[it.item_id]["embedding"])
    centroid = {s: np.mean(v, 0) for s, v in by_speaker.items()}
    same, other, f0_gen, f0_gt = [], [], [], []
    for it in items:
        emb = desc[it.item_id]["embedding"]
        same.append(cosine(emb, centroid[it.speaker]))
        other.append(np.mean([cosine(emb, c) for s, c in centroid.items() if s != it.speaker]))
        f0_gen.append(desc[it.item_id]["f0"])
        f0_gt.append(truth[it.item_id]["f0"])
    f0_gen, f0_gt = np.array(f0_gen), np.array(f0_gt)
    ok = np.isfinite(f0_gen) & np.isfinite(f0_gt)
    summary.update({
        "sim_same_speaker": float(np.mean(same)), "sim_other_speakers": float(np.mean(other)),
        "f0_r": float(np.corrcoef(f0_gen[ok], f0_gt[ok])[0, 1]) if ok.sum() > 2 else float("nan"),
        "f0_abs_error_hz": float(np.mean(np.abs(f0_gen[ok] - f0_gt[ok]))) if ok.any() else float("nan"),
        "f0_voiced_items": int(ok.sum()),
    })
    return summary, desc
