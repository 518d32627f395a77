"""E-FID / P-FID discrimination on real clips: each talking video is cut into two halves (first half = "reference",
second half = "generated" stand-in); the distance between halves of the same person must be smaller than between
halves of different persons. Codes come from our face pipeline (omnitalker.eval.style.fit_frames), fitted on every
``stride``-th frame of the first ``seconds`` of each clip, and are cached in ``out``.

    python scripts/eval_style_discrimination.py out=outputs/style_discrimination [media=../shared/media/video seconds=8 stride=4]

Prints a markdown table (the numbers in docs/evaluation.md) and writes out/discrimination.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from omnitalker.constants import EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE
from omnitalker.eval.frechet import frechet_distance_of

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "video"  # ../shared beside the repo
CLIPS = ("sadtalker_WDA_AlexandriaOcasioCortez_000", "sadtalker_WDA_KatieHill_000", "mimictalk_Trump_10s",
         "mimictalk_German_20s", "aniportrait_pose_ref_video", "edtalk_uncrop_Obama")


def codes_of(name: str, media: Path, out: Path, seconds: float, stride: int) -> tuple[np.ndarray, float]:
    cache = out / f"{name}_s{seconds:g}_k{stride}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as d:
            return d["codes"], float(d["fps"])
    from omnitalker.eval.style import fit_frames
    from omnitalker.inference.media import decode_video, probe_media

    fps = probe_media(media / f"{name}.mp4").fps
    frames, fps = decode_video(media / f"{name}.mp4", max_frames=round(seconds * fps), max_side=512)
    codes = fit_frames(frames[::stride], fps / stride, name=name)
    np.savez(cache, codes=codes, fps=np.float64(fps / stride))
    return codes, fps / stride


def main(argv: list[str]) -> None:
    args = dict(a.split("=", 1) for a in argv)
    out = Path(args.get("out", "outputs/style_discrimination"))
    media = Path(args.get("media", SHARED))
    seconds, stride = float(args.get("seconds", 8)), int(args.get("stride", 3))
    out.mkdir(parents=True, exist_ok=True)
    feats = {"E-FID": lambda c: np.concatenate([c[:, EXPRESSION_SLICE], c[:, EYE_SLICE]], 1),
             "P-FID": lambda c: c[:, POSE_SLICE],
             "P-FID (pose=rotation)": lambda c: c[:, POSE_SLICE][:, :3]}
    halves = {}
    for name in CLIPS:
        codes, _ = codes_of(name, media, out, seconds, stride)
        half = codes.shape[0] // 2
        halves[name] = (codes[:half], codes[half:])
        print(f"fitted {name}: {codes.shape[0]} frames", file=sys.stderr)
    result = {"clips": list(CLIPS), "seconds": seconds, "stride": stride}
    lines = ["| metric | same person (mean) | different persons (mean) | pairs with same < different |",
             "|---|---|---|---|"]
    for metric, f in feats.items():
        d = np.array([[frechet_distance_of(f(halves[a][1]), f(halves[b][0])) for b in CLIPS] for a in CLIPS])
        same = np.diag(d)
        diff = d[~np.eye(len(CLIPS), dtype=bool)].reshape(len(CLIPS), -1)
        wins = int((same[:, None] < diff).sum())
        result[metric] = {"matrix": d.tolist(), "same_mean": float(same.mean()), "different_mean": float(diff.mean()),
                          "same_lt_different": wins, "pairs": int(diff.size)}
        lines.append(f"| {metric} | {same.mean():.4f} | {diff.mean():.4f} | {wins}/{diff.size} |")
    (out / "discrimination.json").write_text(json.dumps(result, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
