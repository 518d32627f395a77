#!/usr/bin/env python
"""Animate a face image with the training-free mesh renderer, driven by another video's motion or a codes file.

    python scripts/mesh_render.py image=../shared/media/faces/aniportrait_Aragaki.png \
        driving=../shared/media/video/aniportrait_pose_ref_video.mp4 out=outputs/mesh.mp4 \
        [seconds=5] [expression=relative|absolute] [max_side=512] [strip=docs/img/mesh_strip.png] \
        [eyes=docs/img/mesh_eyes.png]

The driver's codes come from our face pipeline (or `driving=codes.npz` with `codes`, `fps`); its motion relative to
its first frame is added to the image's own fitted code. Prints a JSON line with the identity similarity (CSIM,
dlib descriptor) between the image and the rendered frames; dlib's same-person threshold is a distance of 0.6.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnitalker.eval.metric import Clip, EvalItem, build_metric  # noqa: E402
from omnitalker.meshrender.renderer import MeshRenderer  # noqa: E402


def main(argv: list[str]) -> int:
    args = dict(a.split("=", 1) for a in argv if "=" in a)
    if "image" not in args or "driving" not in args or any("=" not in a for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    import omnitalker.eval.identity  # noqa: F401  (registers "csim")
    from omnitalker.face.extract import extract_codes
    from omnitalker.inference.media import decode_audio, probe_media
    from omnitalker.inference.mux import write_video
    from omnitalker.meshrender.retarget import retarget_codes

    seconds = float(args.get("seconds", 5))
    image = np.asarray(Image.open(args["image"]).convert("RGB"))
    started = time.perf_counter()
    renderer = MeshRenderer(image, max_side=int(args.get("max_side", 512)))
    rig_s = time.perf_counter() - started
    driving = Path(args["driving"])
    audio = None
    if driving.suffix == ".npz":
        with np.load(driving, allow_pickle=False) as z:
            codes, fps = z["codes"], float(z["fps"])
    else:
        codes, fps, _ = extract_codes(driving)
        if probe_media(driving).has_audio:
            audio, _ = decode_audio(driving)  # (n,) 24 kHz mono
    codes = codes[: int(round(seconds * fps))]
    codes = retarget_codes(codes, renderer.source_code.numpy(), expression=args.get("expression", "relative"))
    started = time.perf_counter()
    frames = renderer.render(codes, progress=True)
    render_s = time.perf_counter() - started
    out = Path(args.get("out", "outputs/mesh.mp4"))
    out.parent.mkdir(parents=True, exist_ok=True)
    if audio is not None:
        audio = np.asarray(audio, dtype=np.float32)[: int(round(len(frames) / fps * 24000))]
    write_video(out, frames, audio, fps=fps)
    csim = build_metric("csim").measure(EvalItem("mesh", "en", Clip(frames=frames, fps=fps), Clip(frames=image[None])))
    if "strip" in args:
        picks = np.linspace(0, len(frames) - 1, 6).round().astype(int)
        strip = np.concatenate([image_resized(image, renderer.size)] + [frames[i] for i in picks], axis=1)
        Path(args["strip"]).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(strip).resize((strip.shape[1] // 2, strip.shape[0] // 2)).save(args["strip"])
    if "eyes" in args:
        eye_strip(renderer, Path(args["eyes"]))
    print(json.dumps({"frames": len(frames), "size": list(renderer.size), "rig_s": round(rig_s, 2),
                      "render_fps": round(len(frames) / render_s, 2), **{k: round(v, 4) for k, v in csim.scalars.items()},
                      "out": str(out)}))
    return 0


def eye_strip(renderer: MeshRenderer, path: Path) -> None:
    """The eye region under the image's own code, gaze left / right / up / down (0.35 rad on both eyes), a half and a
    full blink: the crops stacked top to bottom."""
    from omnitalker.constants import BLENDSHAPE_NAMES

    blink = [BLENDSHAPE_NAMES.index(n) for n in ("eyeBlinkLeft", "eyeBlinkRight")]
    codes = renderer.source_code.repeat(7, 1)
    codes[1, 57:61:2] -= 0.35
    codes[2, 57:61:2] += 0.35
    codes[3, 58:61:2] -= 0.35
    codes[4, 58:61:2] += 0.35
    codes[5, blink], codes[6, blink] = 0.5, 1.0
    frames = renderer.render(codes)
    eyes = renderer.rig.points[[33, 133, 362, 263, 159, 145]].numpy()
    x0, x1 = int(eyes[:, 0].min()) - 12, int(eyes[:, 0].max()) + 12
    yc, half = int(eyes[:, 1].mean()), max(12, int((x1 - x0) / 8))
    strip = np.concatenate([f[max(0, yc - half):yc + half, max(0, x0):x1] for f in frames])  # (7 * 2 half, w, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(path)


def image_resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
