"""Discrimination checks of the video metrics on real clips (the numbers in docs/evaluation_video.md).

    python scripts/eval_video_checks.py --out outputs/eval_video_checks.json [--only csim,fvd,sync]

- CSIM (dlib): every clip split into halves; same person = second half vs first half of the same clip, different
  persons = second half of clip j vs first half of clip i (i != j).
- FVD (real I3D): the first ``--windows`` 16-frame windows of every clip vs (a) the same frames re-encoded with
  libx264 crf 30, (b) the same frames in shuffled order, (c) the next windows of the same clips (other real frames).
- sync_landmark: true audio vs audio delayed by 5 frames and rolled by 1 s, per clip.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import omnitalker.eval.fvd  # registers "fvd"
import omnitalker.eval.identity  # noqa: F401  (registers "csim")
from omnitalker.eval.fvd import clip_windows
from omnitalker.eval.identity import sample_frames, unit_vectors
from omnitalker.eval.metric import Clip, Measurement, build_metric
from omnitalker.eval.sync import landmark_sync, mouth_opening
from omnitalker.inference.media import decode_audio, decode_video

MEDIA = Path("/work/shared/media/video")
CLIPS = [
    "sadtalker_WDA_KatieHill_000.mp4",
    "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4",
    "mimictalk_Trump_10s.mp4",
    "aniportrait_pose_ref_video.mp4",
    "edtalk_uncrop_Obama.mp4",
    "mimictalk_German_20s.mp4",
]


def reencode(frames: np.ndarray, fps: float, crf: int = 30) -> np.ndarray:
    import av

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "re.mp4")
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=round(fps))
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            stream.options = {"crf": str(crf)}
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return decode_video(path, max_frames=len(frames))[0]


def check_csim(videos: dict[str, np.ndarray], frames_per_half: int) -> dict:
    """Embeds every half once, then scores all (reference half, generated half) pairs like the csim metric does."""
    metric = build_metric("csim", max_frames=frames_per_half)
    names = list(videos)
    refs, gens = [], []
    for name in names:
        v = videos[name]
        ref, ref_found = metric.embedder(sample_frames(v[: len(v) // 2], frames_per_half))
        gen, gen_found = metric.embedder(sample_frames(v[len(v) // 2 :], frames_per_half))
        refs.append(unit_vectors(ref[ref_found].mean(0)))
        gens.append(unit_vectors(gen[gen_found]))
        print(f"csim: {name} faces {ref_found.mean():.2f} / {gen_found.mean():.2f}", flush=True)
    matrix = np.array([[float((g @ r).mean()) for g in gens] for r in refs])  # rows: reference, cols: generated
    same, diff = np.diag(matrix), matrix[~np.eye(len(names), dtype=bool)]
    return {
        "clips": names,
        "matrix_ref_rows_gen_cols": matrix.round(4).tolist(),
        "same_mean": float(same.mean()),
        "same_min": float(same.min()),
        "different_mean": float(diff.mean()),
        "different_max": float(diff.max()),
    }


def check_fvd(videos: dict[str, tuple[np.ndarray, float]], windows: int) -> dict:
    metric = build_metric("fvd", clip_len=16, max_clips=windows)
    n = 16 * windows
    rng = np.random.default_rng(0)
    measured: dict[str, list[Measurement]] = {"reencoded": [], "shuffled": [], "other_real_frames": []}
    for name, (frames, fps) in videos.items():
        real = frames[:n]
        real_feats = metric.features(clip_windows(real, 16, windows))  # (windows, 400)
        variants = {
            "reencoded": reencode(real, fps),
            "shuffled": real[rng.permutation(len(real))],
            "other_real_frames": frames[n : 2 * n],
        }
        for key, other in variants.items():
            feats = metric.features(clip_windows(other, 16, windows))
            measured[key].append(Measurement(arrays={"fvd_generated": feats, "fvd_real": real_feats}))
        print(f"fvd: {name} done", flush=True)
    return {key: metric.aggregate(ms) for key, ms in measured.items()} | {"windows_per_clip": windows}


def check_sync(names: list[str], max_frames: int) -> dict:
    out = {}
    for name in names:
        frames, fps = decode_video(MEDIA / name, max_frames=max_frames, max_side=512)
        audio, _ = decode_audio(MEDIA / name, sample_rate=16000)
        audio = audio[: int(len(frames) / fps * 16000)].astype(np.float64)
        mouth, _ = mouth_opening(Clip(frames=frames, fps=fps))
        hop = round(16000 / fps)
        true = landmark_sync(mouth, fps, audio, 16000)
        delayed = landmark_sync(mouth, fps, np.concatenate([np.zeros(5 * hop), audio])[: len(audio)], 16000)
        rolled = landmark_sync(mouth, fps, np.roll(audio, 16000), 16000)
        out[name] = {"true": true, "delayed_5_frames": delayed, "rolled_1s": rolled}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/eval_video_checks.json"))
    parser.add_argument("--only", default="csim,fvd,sync")
    parser.add_argument("--windows", type=int, default=2, help="16-frame windows per clip for FVD")
    parser.add_argument("--csim-frames", type=int, default=6, help="sampled frames per half for CSIM")
    parser.add_argument("--sync-frames", type=int, default=250)
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    result: dict = {}
    if "csim" in only:
        videos = {n: decode_video(MEDIA / n, max_frames=250, max_side=512)[0] for n in CLIPS}
        result["csim_dlib"] = check_csim(videos, args.csim_frames)
        print(json.dumps(result["csim_dlib"], indent=1), flush=True)
    if "fvd" in only:
        videos_fps = {n: decode_video(MEDIA / n, max_frames=32 * args.windows) for n in CLIPS}
        result["fvd"] = check_fvd(videos_fps, args.windows)
        print(json.dumps(result["fvd"], indent=1), flush=True)
    if "sync" in only:
        result["sync_landmark"] = check_sync(CLIPS, args.sync_frames)
        print(json.dumps(result["sync_landmark"], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
