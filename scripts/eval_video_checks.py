"""Discrimination checks of the video metrics on real clips (the numbers in docs/evaluation_video.md).

    python scripts/eval_video_checks.py --out outputs/eval_video_checks.json [--only csim,fvd,sync]

- CSIM (dlib): every clip split into halves; same person = second half vs first half of the same clip, different
  persons = second half of clip j vs first half of clip i (i != j).
- FVD (real I3D): the first ``--windows`` 16-frame windows of every clip vs (a) the same frames re-encoded with
  libx264 crf 30, (b) the same frames in shuffled order, (c) the next windows of the same clips (other real frames).
- sync_landmark: on every real talking video of the media manifest, the true audio vs the audio delayed by 5 frames
  and shifted by 1 s either way (``--sync-cache DIR`` keeps the mouth features, so reruns skip the landmarker).
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
from omnitalker.eval.metric import Measurement, build_metric
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


def talking_clips(media: Path) -> list[str]:
    """Every real talking video with audio listed in ``<media>/manifest.json`` (paths relative to ``media``)."""
    manifest = json.loads((media / "manifest.json").read_text(encoding="utf-8"))
    return sorted(e["file"] for e in manifest if e.get("kind") == "talking_video" and e.get("has_audio"))


def mouth_track(path: Path, max_frames: int, cache: Path | None) -> tuple[np.ndarray, float]:
    """(T, 3) video mouth features of a clip's first ``max_frames`` frames (cached as npz in ``cache``)."""
    from omnitalker.eval.sync_landmark import video_mouth_features

    cached = cache / f"{path.stem}_{max_frames}.npz" if cache else None
    if cached is not None and cached.is_file():
        with np.load(cached, allow_pickle=False) as d:
            return d["features"], float(d["fps"])
    frames, fps = decode_video(path, max_frames=max_frames, max_side=960)
    features = video_mouth_features(frames, fps)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, features=features, fps=np.float64(fps))
    return features, fps


def shifted(audio: np.ndarray, samples: int) -> np.ndarray:
    """The audio delayed by ``samples`` (advanced when negative), zero-filled, same length."""
    if samples >= 0:
        return np.concatenate([np.zeros(samples), audio])[: len(audio)]
    return np.concatenate([audio[-samples:], np.zeros(-samples)])


def check_sync(media: Path, max_frames: int, cache: Path | None, delay: int = 5) -> dict:
    """Per clip: the score of the true audio, of the audio delayed by ``delay`` frames and of the audio shifted by
    1 s both ways (outside the ±15-frame search: unsynchronised speech of the same person)."""
    from omnitalker.eval.metric import MetricError
    from omnitalker.eval.sync_landmark import landmark_sync

    out: dict = {"clips": {}}
    for name in talking_clips(media):
        features, fps = mouth_track(media / name, max_frames, cache)
        audio, _ = decode_audio(media / name, sample_rate=16000)
        audio = audio[: int(len(features) / fps * 16000)].astype(np.float64)
        hop = 16000 / fps
        try:
            row = {"seconds": round(len(features) / fps, 2),
                   "true": landmark_sync(features, fps, audio, 16000),
                   f"delayed_{delay}_frames": landmark_sync(features, fps, shifted(audio, round(delay * hop)), 16000),
                   "shifted_plus_1s": landmark_sync(features, fps, shifted(audio, 16000), 16000),
                   "shifted_minus_1s": landmark_sync(features, fps, shifted(audio, -16000), 16000)}
        except MetricError as exc:
            row = {"error": str(exc)}
        out["clips"][name] = row
        print(f"sync: {name} {json.dumps(row)}", flush=True)
    rows = [r for r in out["clips"].values() if "true" in r]
    summary: dict = {"clips_scored": len(rows)}
    for key in ("peak", "confidence"):
        true = [r["true"][key] for r in rows]
        plus, minus = [r["shifted_plus_1s"][key] for r in rows], [r["shifted_minus_1s"][key] for r in rows]
        summary[f"{key}_true_mean"] = float(np.mean(true))
        summary[f"{key}_shifted_1s_mean"] = float(np.mean(plus + minus))
        summary[f"{key}_clips_true_above_both_shifts"] = int(sum(t > max(p, m) for t, p, m in zip(true, plus, minus)))
        summary[f"{key}_clips_true_above_plus_1s"] = int(sum(t > p for t, p in zip(true, plus)))
    summary[f"clips_offset_follows_{delay}_frame_delay"] = int(sum(
        r[f"delayed_{delay}_frames"]["offset"] - r["true"]["offset"] == delay for r in rows))
    summary[f"clips_offset_follows_{delay}_frame_delay_within_1"] = int(sum(
        abs(r[f"delayed_{delay}_frames"]["offset"] - r["true"]["offset"] - delay) <= 1 for r in rows))
    out["summary"] = summary
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/eval_video_checks.json"))
    parser.add_argument("--only", default="csim,fvd,sync")
    parser.add_argument("--windows", type=int, default=2, help="16-frame windows per clip for FVD")
    parser.add_argument("--csim-frames", type=int, default=6, help="sampled frames per half for CSIM")
    parser.add_argument("--sync-frames", type=int, default=500, help="frames per clip for sync_landmark (20 s)")
    parser.add_argument("--media", type=Path, default=MEDIA.parent, help="folder with manifest.json")
    parser.add_argument("--sync-cache", type=Path, default=None, help="cache the mouth features here (npz)")
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
        result["sync_landmark"] = check_sync(args.media, args.sync_frames, args.sync_cache)
        print(json.dumps(result["sync_landmark"], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
