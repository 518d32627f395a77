#!/usr/bin/env python
"""Measure what the inference controls do, in the codes and in the *rendered* video re-fitted with the face pipeline.

    python scripts/measure_controls.py [driver=../shared/media/video/sadtalker_WDA_KatieHill_000.mp4] \
        [image=self | path/to/portrait.png] [seconds=8] [max_side=256] [out=outputs/controls] \
        [conditions=none,smile,happy]

Real codes (our face pipeline on the driver clip) stand in for generated ones: they go to the mel rate, through the
control transform exactly as in inference (`ControlApplier`, head centre = the track's mean pose), back to 25 fps,
and are drawn by renderer=mesh through the inference code (`MeshDriver`: relative retargeting onto the identity
image, gaze lock again after it); the frames are fitted again by the face pipeline. ``image=self`` (default) takes
the identity frame of the driver, face-cropped as inference does with a reference video (the codes then belong to
the drawn person, as generated codes do); a portrait path drives another person's photo with them. Each control is
compared with the uncontrolled render of the same codes. Prints a markdown table and writes ``out/controls.json``.
The audio check (bit-identical under visual-only controls) is
tests/test_identity_sources.py::test_portrait_and_voice_to_mp4_with_the_mesh_renderer_and_controls.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONDITIONS = {  # name: (controls, what is measured)
    "none": ({}, ""),
    "static": ({}, ""),  # no motion at all (the identity code held): the re-fit's own noise floor
    "head x0.5": ({"head": 0.5}, "head"),
    "head x2": ({"head": 2.0}, "head"),
    "lip x0.5": ({"lip": 0.5}, "lip"),
    "lip x2": ({"lip": 2.0}, "lip"),
    "gaze_lock": ({"gaze_lock": True}, "gaze"),
    "smile +0.5": ({"smile": 0.5}, "smile"),
    "emotion happy": ({"emotion": "happy"}, "smile"),
    "blink 0/min": ({"blink_rate": 0.0}, "blink"),
    "blink 30/min": ({"blink_rate": 30.0}, "blink"),
}


def fit_frames(frames: np.ndarray, fps: float, name: str):
    """(T, H, W, 3) uint8 -> the face pipeline's fit (landmarks, checks, Eq. 1): ``.codes`` (T, 61), face box."""
    from omnitalker.inference.reference import ReferenceClip, fit_reference_face

    clip = ReferenceClip(np.zeros(0, np.float32), frames, fps, 24000, name, len(frames) / fps, False)
    return fit_reference_face(clip)


def measures(codes: np.ndarray, fps: float = 25.0) -> dict[str, float]:
    from omnitalker.constants import BLENDSHAPE_NAMES
    from omnitalker.controls.apply import gaze_camera_error_deg
    from omnitalker.eval.motion import motion_stats

    jaw = codes[:, BLENDSHAPE_NAMES.index("jawOpen")]
    smile = codes[:, [BLENDSHAPE_NAMES.index("mouthSmileLeft"), BLENDSHAPE_NAMES.index("mouthSmileRight")]]
    return {"yaw_std_deg": float(np.degrees(codes[:, 51].std())),
            "pitch_std_deg": float(np.degrees(codes[:, 52].std())),
            "jaw_range": float(np.ptp(jaw)),
            "gaze_error_deg": gaze_camera_error_deg(codes),
            "smile": float(smile.mean()),
            "blink_per_min": motion_stats(codes, fps)["blink_per_min"],
            # the mesh's full blink (code 1.0) re-fits at ~0.35: blinks also counted at half the thresholds
            "blink_per_min_half": motion_stats(codes, fps, blink_on=0.25, blink_off=0.15)["blink_per_min"]}





def make_table(results: dict) -> str:
    """Markdown table of every measured condition against the uncontrolled render ("none")."""
    base = results["none"]
    rows = ["| control | measure | codes: control / none | rendered + re-fitted: control / none | target |",
            "|---|---|---|---|---|"]
    if "static" in results:  # how still the re-fit of a motionless render is
        still = results["static"]["rendered"]
        rows.append(f"| (no motion: the identity code held) | yaw / pitch std, degrees | 0 / 0 | "
                    f"{still['yaw_std_deg']:.2f} / {still['pitch_std_deg']:.2f} | re-fit noise floor |")
    for name, (values, kind) in CONDITIONS.items():
        if not kind or name not in results:
            continue
        r = results[name]
        if kind in ("head", "lip"):
            factor = values[kind]
            keys = ["yaw_std_deg", "pitch_std_deg"] if kind == "head" else ["jaw_range"]
            for key in keys:
                rows.append(f"| {name} | {key} ratio | {r['codes'][key] / base['codes'][key]:.3f} | "
                            f"{r['rendered'][key] / base['rendered'][key]:.3f} | {factor:g} ± 20 % |")
        elif kind == "gaze":
            rows.append(f"| {name} | gaze-to-camera error, degrees | {base['codes']['gaze_error_deg']:.2f} -> "
                        f"{r['codes']['gaze_error_deg']:.2f} | {base['rendered']['gaze_error_deg']:.2f} -> "
                        f"{r['rendered']['gaze_error_deg']:.2f} | lower |")
        elif kind == "blink":
            for key, label in (("blink_per_min", "blinks per minute"),
                               ("blink_per_min_half", "blinks per minute, half thresholds (0.25 / 0.15)")):
                rows.append(f"| {name} | {label} | {base['codes'][key]:.1f} -> {r['codes'][key]:.1f} | "
                            f"{base['rendered'][key]:.1f} -> {r['rendered'][key]:.1f} | {values['blink_rate']:g} |")
        else:
            rows.append(f"| {name} | mean mouthSmile L/R | {base['codes']['smile']:.3f} -> {r['codes']['smile']:.3f} "
                        f"| {base['rendered']['smile']:.3f} -> {r['rendered']['smile']:.3f} | higher |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    args = dict(a.split("=", 1) for a in argv if "=" in a)
    from PIL import Image

    from omnitalker.controls import ControlApplier, Controls
    from omnitalker.data.resample import codes_to_mel_rate, codes_to_video_rate
    from omnitalker.face.crop import crop_face
    from omnitalker.inference.identity import identity_frame_index
    from omnitalker.inference.media import iter_video_frames, probe_media
    from omnitalker.inference.mesh import MeshDriver
    from omnitalker.inference.mux import write_video

    driver = Path(args.get("driver", SHARED / "media/video/sadtalker_WDA_KatieHill_000.mp4"))
    image_arg = args.get("image", "self")
    seconds, out = float(args.get("seconds", 8)), Path(args.get("out", "outputs/controls"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    fps = float(probe_media(driver).fps)
    frames = np.stack(list(iter_video_frames(driver, max_frames=round(seconds * fps))))
    fit = fit_frames(frames, fps, str(driver))
    real = fit.codes  # (T, 61) real codes
    mel = codes_to_mel_rate(real, fps).numpy()  # (n, 61) what the DiT's output looks like
    identity_frame = identity_frame_index(real)
    anchor = real[identity_frame]  # (61,) the identity code generated codes continue from
    if image_arg == "self":  # the reference-video path: the identity frame, face-cropped (crop=auto)
        image = crop_face(frames[identity_frame], fit.centre_ref, fit.scale_ref)
    else:
        image = np.asarray(Image.open(image_arg).convert("RGB"))
    mesh = MeshDriver(video_size=int(args.get("max_side", 256)))
    wanted = args.get("conditions")  # comma-separated parts of names, e.g. conditions=none,smile,happy
    names = [n for n in CONDITIONS if not wanted or n == "none" or any(w in n for w in wanted.split(","))]
    results = {}
    for name in names:
        values = CONDITIONS[name][0]
        controlled = ControlApplier(Controls(**values), centre_pose=mel[:, 51:57].mean(0)).push(mel)  # (n, 61)
        video_codes = codes_to_video_rate(controlled, 25.0, len(real)).numpy()  # (T, 61)
        if name == "static":
            video_codes = np.repeat(anchor[None], len(real), axis=0)  # (T, 61) the identity code, held
        identity = mesh.prepare_identity(image, anchor, gaze_lock=bool(values.get("gaze_lock")))
        drive = mesh.driving_codes(identity, video_codes)  # (T, 61) what is drawn
        rendered = np.concatenate([(batch.permute(0, 2, 3, 1) * 255.0 + 0.5).clamp(0, 255).byte().numpy()
                                   for batch in mesh.animate_batches(identity, video_codes)])  # (T, h, w, 3)
        write_video(out / f"{name.replace(' ', '_').replace('+', '').replace('/', '_per_')}.mp4", rendered, None,
                    fps=25.0)
        refit = fit_frames(rendered, 25.0, name).codes
        results[name] = {"controls": values, "codes": measures(drive), "rendered": measures(refit)}
        print(f"{name}: {results[name]} ({time.perf_counter() - started:.0f} s)", flush=True)
    table = make_table(results)
    print(table)
    (out / "controls.json").write_text(json.dumps({"driver": str(driver), "image": image_arg,
                                                   "seconds": seconds, "frames": len(real), "results": results,
                                                   "table": table}, indent=1))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
