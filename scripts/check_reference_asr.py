"""How well the bundled tiny.en ASR follows each reference clip: the mean token log-probability that
`omnitalker.audio.asr.transcribe_reference` compares with ENGLISH_MIN_LOGPROB to refuse non-English references.

    python scripts/check_reference_asr.py /work/shared/media/video/mimictalk_Trump_10s.mp4 ...
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torchaudio

from omnitalker.audio.asr import ENGLISH_MIN_LOGPROB, WhisperRecognizer
from omnitalker.inference.reference import load_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--asr-model", default=None, help="local faster-whisper directory (default: bundled tiny.en)")
    args = parser.parse_args()
    recognizer = WhisperRecognizer(args.asr_model)
    print(f"threshold {ENGLISH_MIN_LOGPROB}")
    for video in args.videos:
        clip = load_reference(video)
        audio = torchaudio.functional.resample(torch.from_numpy(clip.audio), clip.sample_rate, 16000).numpy()
        segments = recognizer.transcribe(audio, "en")
        weights = [max(s.end - s.start, 1e-3) for s in segments]
        logprob = float(np.average([s.avg_logprob for s in segments], weights=weights)) if segments else float("nan")
        text = " ".join(s.text for s in segments)
        print(f"{video}\t{logprob:.2f}\t{'english' if logprob >= ENGLISH_MIN_LOGPROB else 'refused'}\t{text[:80]}")


if __name__ == "__main__":
    main()
