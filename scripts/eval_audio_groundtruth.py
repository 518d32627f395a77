"""Ground-truth audio rows and discrimination checks on the real English clips of a media folder.

Every English clip with audio listed in ``<media>/manifest.json`` (speech files and talking videos) is cut into a
reference (first half) and a target (second half) of the same speaker (:func:`omnitalker.eval.audio_clips.split_halves`):
- SIM-A same speaker: cos(target half, own reference half); different speakers: cos(target half of clip i,
  reference half of clip j) over all pairs of different speakers (clips known to share a speaker are left out);
  pairing accuracy: how often a target's own reference is its most similar reference;
- WER: the whole clip against the manifest transcript, where the manifest has one (Seed-TTS normalisation), and, as a
  chance level, the same transcription against another clip's transcript (``gt_wer_mismatched``);
- DNSMOS of every whole clip.

    python scripts/eval_audio_groundtruth.py --media /work/shared/media --out /tmp/gt_audio.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np

# clips of one speaker under two files (MANIFEST.md): not counted as "different speakers"
SAME_SPEAKER = {"speech/vexpress_AOC_aud.mp3": "video/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"}


def english_clips(media: Path) -> list[dict]:
    manifest = json.loads((media / "manifest.json").read_text(encoding="utf-8"))
    chosen = [
        e
        for e in manifest
        if e.get("has_audio") and e.get("language") == "en" and e.get("kind") in ("speech", "talking_video")
    ]
    return sorted(chosen, key=lambda e: e["file"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="/work/shared/media", help="folder with manifest.json")
    parser.add_argument("--out", default=None, help="write the numbers here as JSON")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="use at most this much of each clip")
    parser.add_argument("--embedder", default="resemblyzer", choices=("resemblyzer", "wavlm_ecapa"))
    parser.add_argument("--checkpoint", default=None, help="wavlm_large_finetune.pth for --embedder wavlm_ecapa")
    parser.add_argument("--whisper", default=None, help="faster-whisper model dir (default: bundled tiny.en)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)

    import torch

    from omnitalker.eval.audio_clips import load_audio_clip, split_halves
    from omnitalker.eval.dnsmos import DnsmosMetric
    from omnitalker.eval.metric import EvalItem, MetricError
    from omnitalker.eval.speaker import SimAMetric, cosine
    from omnitalker.eval.textnorm import edit_counts, normalize
    from omnitalker.eval.wer import WerMetric, array_text

    torch.set_num_threads(args.threads)
    media = Path(args.media)
    try:
        entries = english_clips(media)
        if not entries:
            raise MetricError(f"no English clips with audio in {media / 'manifest.json'}")
        sim = SimAMetric(embedder=args.embedder, checkpoint=args.checkpoint)
        wer = WerMetric(model_path=args.whisper)
        dnsmos = DnsmosMetric()
    except (MetricError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    started = time.time()
    names, ref_emb, tgt_emb, rows = [], [], [], []
    wer_measurements = []
    for e in entries:
        clip = load_audio_clip(media / e["file"], text=e.get("transcript") or "")
        clip.audio = clip.audio[: int(args.max_seconds * clip.sample_rate)]
        reference, target = split_halves(clip)
        names.append(e["file"])
        ref_emb.append(sim.embed(reference, "reference"))
        tgt_emb.append(sim.embed(target, "target"))
        row = {"file": e["file"], "seconds": round(len(clip.audio) / clip.sample_rate, 2)}
        row.update({k: round(v, 3) for k, v in dnsmos.measure(EvalItem(e["file"], "en", clip, clip)).scalars.items()})
        if clip.text:
            m = wer.measure(EvalItem(e["file"], "en", clip, clip))
            wer_measurements.append(m)
            row.update(
                wer=round(m.scalars["wer"], 4), transcript=clip.text, hypothesis=array_text(m.arrays["hypothesis_utf8"])
            )
        rows.append(row)
        print(f"{e['file']}: done ({time.time() - started:.0f} s)", file=sys.stderr)

    transcribed = [r for r in rows if "hypothesis" in r]
    mismatched = [  # each transcription scored against the next clip's transcript: what a wrong text scores
        edit_counts(normalize(other["transcript"], "en"), normalize(r["hypothesis"], "en")).rate
        for r, other in zip(transcribed, transcribed[1:] + transcribed[:1])
        if other is not r
    ]

    def speaker(name: str) -> str:
        return SAME_SPEAKER.get(name, name)

    n = len(names)
    sims = np.array([[cosine(tgt_emb[i], ref_emb[j]) for j in range(n)] for i in range(n)])  # (target, reference)
    same = [sims[i, j] for i, j in product(range(n), range(n)) if speaker(names[i]) == speaker(names[j])]
    own = [sims[i, i] for i in range(n)]
    different = [sims[i, j] for i, j in product(range(n), range(n)) if speaker(names[i]) != speaker(names[j])]
    best = [int(speaker(names[int(np.argmax(sims[i]))]) == speaker(names[i])) for i in range(n)]
    for i, row in enumerate(rows):
        row["sim_a_own_reference"] = round(float(sims[i, i]), 4)
        row["sim_a_max_other_speaker"] = round(
            float(max(sims[i, j] for j in range(n) if speaker(names[j]) != speaker(names[i]))), 4
        )
    summary = {
        "embedder": sim.info["embedder"],
        "recognizer": wer.info["recognizer"],
        "normalization": wer.info["normalization"],
        "clips": n,
        "sim_a_same_speaker_mean": float(np.mean(own)),
        "sim_a_same_speaker_min": float(np.min(own)),
        "sim_a_same_speaker_pairs_mean": float(np.mean(same)),
        "sim_a_different_speakers_mean": float(np.mean(different)),
        "sim_a_different_speakers_max": float(np.max(different)),
        "sim_a_pairing_accuracy": float(np.mean(best)),
        "sim_a_pairing_chance": float(np.mean([sum(speaker(x) == speaker(y) for y in names) / n for x in names])),
        **{f"gt_{k}": v for k, v in wer.aggregate(wer_measurements).items()},
        "gt_wer_mismatched": float(np.mean(mismatched)) if mismatched else float("nan"),
        "gt_dnsmos_ovrl_mean": float(np.mean([r["dnsmos_ovrl"] for r in rows])),
        "seconds": round(time.time() - started, 1),
    }
    result = {"summary": summary, "clips": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print("| clip | s | SIM-A own ref | max SIM-A other speaker | DNSMOS ovrl | WER |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        wer_cell = f"{r['wer']:.3f}" if "wer" in r else "—"
        print(
            f"| `{r['file']}` | {r['seconds']} | {r['sim_a_own_reference']:.3f} | "
            f"{r['sim_a_max_other_speaker']:.3f} | {r['dnsmos_ovrl']:.2f} | {wer_cell} |"
        )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
