"""Throughput of the synthetic-corpus generator, stage by stage, on one CPU thread.

    python scripts/benchmark_synthetic.py [frames=200] [speaker=1]

Prints seconds per utterance for espeak synthesis (one worker process per session), milliseconds per frame for
code generation, rendering (keypoints -> piecewise-affine warp -> mouth cavity) and H.264+AAC encoding, and the
implied time for the default corpus (~5.5 minutes of audio at 25 fps, every frame encoded twice: clip + source).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # data_prep/ is a top-level folder of the repo

import numpy as np
import torch

from data_prep.synthetic.codes import session_codes
from data_prep.synthetic.face_render import FaceRenderer
from data_prep.synthetic.mp4 import Mp4Writer
from data_prep.synthetic.sentences import pick_sentences
from data_prep.synthetic.session import build_session
from data_prep.synthetic.style import ARCHETYPES
from omnitalker.constants import RENDER_SIZE


def main(argv: list[str]) -> None:
    args = dict(a.split("=", 1) for a in argv)
    frames = int(args.get("frames", 200))
    speaker = ARCHETYPES[int(args.get("speaker", 1))]
    torch.set_num_threads(1)

    rng = np.random.default_rng(0)
    sentences = pick_sentences(speaker.language, 6, rng)
    t = time.perf_counter()
    speech = build_session(sentences, speaker.voice, rng, 25.0)
    t_speech = (time.perf_counter() - t) / len(sentences)
    t = time.perf_counter()
    codes = session_codes(speech, speaker, rng)
    t_codes = (time.perf_counter() - t) / codes.shape[0]
    frames = min(frames, codes.shape[0])

    renderer = FaceRenderer()
    renderer.render(codes[:16])  # warm-up
    t = time.perf_counter()
    images = renderer.render(codes[:frames])
    t_render = (time.perf_counter() - t) / frames

    spf = speech.samples_per_frame
    t = time.perf_counter()
    writer = Mp4Writer(None, 25.0, RENDER_SIZE)
    for a in range(0, frames, 16):
        writer.add(images[a:a + 16], speech.audio[a * spf:(a + 16) * spf])
    writer.close()
    t_encode = (time.perf_counter() - t) / frames

    default_frames = 5.5 * 60 * 25
    print(f"speech   {t_speech:8.3f} s/utterance")
    print(f"codes    {t_codes * 1e3:8.3f} ms/frame")
    print(f"render   {t_render * 1e3:8.2f} ms/frame")
    print(f"encode   {t_encode * 1e3:8.2f} ms/frame (H.264 veryfast + AAC)")
    estimate = default_frames * (t_render + 2 * t_encode + t_codes) + 72 * t_speech
    print(f"default corpus (~{default_frames:.0f} frames): ~{estimate / 60:.1f} min on this machine")


if __name__ == "__main__":
    main(sys.argv[1:])
