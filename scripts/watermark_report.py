#!/usr/bin/env python
"""Measure the safety watermarks on real clips: transparency (PSNR, SNR) and detection after re-encoding.

    python scripts/watermark_report.py CLIP.mp4 [CLIP.mp4 ...] [--seconds 4] \
        [--unmarked FILES_OR_FOLDERS ...] [--out report.json]

For each clip, its first ``--seconds`` are marked as the pipeline marks a generated clip (``safety.mark_frames`` /
``mark_audio``: visible label + video and audio watermarks) and written with ``write_video`` (H.264 crf 18 + AAC
128k). That file is then decoded and re-encoded with PyAV at each ``--reencode`` setting ``SIDE:CRF:AUDIO_KBPS``
(default: 512:23:128, 256:23:128, 256:28:64) and ``detect_watermark`` scores every copy (z-scores; thresholds
video 5, audio 6). Transparency: PSNR of the watermarked vs the original frames (watermark only, without the
visible label, which is meant to be seen) and the SNR of the audio watermark. ``--unmarked`` files (videos and
audio files never marked) give the scores of content without the watermark. This is the source of the watermark
numbers in docs/inference_io.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omnitalker.constants import SAMPLE_RATE
from omnitalker.inference.media import decode_audio, decode_video, iter_video_frames, probe_media
from omnitalker.inference.mux import write_video
from omnitalker.inference.safety import SafetyConfig, mark_audio, mark_frames
from omnitalker.inference.video_watermark import embed_video_watermark
from omnitalker.inference.watermark import detect_watermark
from omnitalker.inference.watermark_key import resolve_key

MEDIA_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".wav", ".flac", ".mp3", ".m4a", ".ogg"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def snr_db(clean: np.ndarray, marked: np.ndarray) -> float:
    noise = float(np.sum((marked.astype(np.float64) - clean) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(clean.astype(np.float64) ** 2)) / noise)


def reencode(src: Path, dst: Path, side: int, crf: float, audio_kbps: int) -> None:
    """Decode ``src`` and write it again at ``side`` (longer side), H.264 ``crf``, AAC ``audio_kbps``."""
    fps = probe_media(src).fps
    audio, _ = decode_audio(src)
    write_video(dst, iter_video_frames(src, max_side=side), audio, fps=fps, crf=crf, audio_bitrate=audio_kbps * 1000)


def measure_clip(clip: Path, seconds: float, settings: Sequence[tuple[int, float, int]], work: Path) -> dict:
    fps = probe_media(clip).fps
    frames, fps = decode_video(clip, max_frames=round(seconds * fps))  # (T, H, W, 3) uint8
    audio = decode_audio(clip)[0][: int(seconds * SAMPLE_RATE)]  # (samples,) 24 kHz mono
    config = SafetyConfig()
    watermark_only = embed_video_watermark(frames, resolve_key(None), strength=config.video_strength)
    marked_audio = mark_audio(audio, config)
    marked = work / f"{clip.stem}_marked.mp4"
    write_video(marked, mark_frames(frames, config), marked_audio, fps=fps)
    row = {
        "clip": clip.name,
        "frames": int(frames.shape[0]),
        "size": f"{frames.shape[2]}x{frames.shape[1]}",
        "video_psnr_db": psnr(watermark_only, frames),
        "audio_snr_db": snr_db(audio, marked_audio),
        "detected": {},
    }
    for side, crf, kbps in settings:
        copy = work / f"{clip.stem}_{side}_crf{crf:g}_{kbps}k.mp4"
        reencode(marked, copy, side, crf, kbps)
        report = detect_watermark(copy)
        row["detected"][f"{side}:{crf:g}:{kbps}"] = {
            "video_z": report.video.score if report.video else None,
            "video_found": bool(report.video and report.video.found),
            "audio_z": report.audio.score if report.audio else None,
            "audio_found": bool(report.audio and report.audio.found),
        }
    return row


def expand(paths: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(f for f in p.iterdir() if f.suffix.lower() in MEDIA_SUFFIXES) if p.is_dir() else [p]
    return out


def parse_setting(text: str) -> tuple[int, float, int]:
    try:
        side, crf, kbps = text.split(":")
        return int(side), float(crf), int(kbps)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SIDE:CRF:AUDIO_KBPS like 512:23:128, got {text!r}") from None


def span(values: list[float]) -> str:
    return f"{min(values):.1f}..{max(values):.1f}" if values else "-"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", help="real talking clips with audio (their first --seconds are used)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument(
        "--reencode", nargs="+", type=parse_setting, default=[(512, 23, 128), (256, 23, 128), (256, 28, 64)]
    )
    parser.add_argument("--unmarked", nargs="*", default=[], help="unmarked media files or folders to score")
    parser.add_argument("--out", default=None, help="write the full report as JSON here")
    args = parser.parse_args(argv)
    for clip in args.clips:
        if not Path(clip).is_file():
            raise SystemExit(f"no such clip: {clip}")

    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure_clip(Path(c), args.seconds, args.reencode, Path(tmp)) for c in args.clips]
    unmarked = []
    for path in expand(args.unmarked):
        report = detect_watermark(path)
        unmarked.append(
            {
                "file": path.name,
                "video_z": report.video.score if report.video else None,
                "audio_z": report.audio.score if report.audio and report.audio.units else None,
                "found": bool((report.video and report.video.found) or (report.audio and report.audio.found)),
            }
        )

    print(f"marked clips (first {args.seconds:g} s, label + watermarks, written crf 18 + AAC 128k):")
    print("| clip | video PSNR (watermark) | audio SNR | " + " | ".join(f"z video/audio @ {k}" for k in rows[0]["detected"]) + " |")
    for r in rows:
        cells = [f"{d['video_z']:.1f} / {d['audio_z']:.1f}" for d in r["detected"].values()]
        print(f"| {r['clip']} | {r['video_psnr_db']:.1f} dB | {r['audio_snr_db']:.1f} dB | " + " | ".join(cells) + " |")
    print(
        f"mean PSNR {np.mean([r['video_psnr_db'] for r in rows]):.1f} dB, mean SNR "
        f"{np.mean([r['audio_snr_db'] for r in rows]):.1f} dB; all detected: "
        f"{all(d['video_found'] and d['audio_found'] for r in rows for d in r['detected'].values())}"
    )
    if unmarked:
        video_z = [u["video_z"] for u in unmarked if u["video_z"] is not None]
        audio_z = [u["audio_z"] for u in unmarked if u["audio_z"] is not None]
        print(
            f"unmarked ({len(unmarked)} files): video z {span(video_z)}, audio z {span(audio_z)}; "
            f"falsely found: {sum(u['found'] for u in unmarked)}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps({"clips": rows, "unmarked": unmarked}, indent=1))


if __name__ == "__main__":
    main()
