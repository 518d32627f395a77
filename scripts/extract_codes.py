"""Extract the 61-D visual codes of one video and print the fit quality.

    python scripts/extract_codes.py clip.mp4 [codes.npz] [key=value ...]
    python scripts/extract_codes.py video=path/to/clip.mp4 out=codes.npz [overlay=overlay.mp4] \
        [face_model=omnitalker/face/assets/face_model_v1.safetensors] [landmarker.model_path=face_landmarker.task] \
        [fit.iterations=150] [checks.min_face_fraction=0.8]

`out` is an .npz with `codes` (T, 61) float32, `fps`, `fit_error` (T,), `interpolated` (T,), `code_names`,
`scale_ref`, `centre_ref` (the weak-perspective references, see omnitalker/face/face_model.py) and the report as JSON.
The video and the output can be given positionally (without `out`, the codes go to `<video stem>.codes.npz` in the
current directory). Exit status 2 with a one-line message on a face error (no face, several faces, unreadable
video, too short) or a bad argument (then the usage line follows); `-h` prints this help.
MediaPipe's native log lines are hidden; `landmarker.native_logs=true` shows them.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from omnitalker.constants import CODE_NAMES
from omnitalker.face.errors import FaceError
from omnitalker.face.extract import ExtractConfig, extract_codes_with_fit, multi_face_fraction
from omnitalker.face.face_model import FaceModel
from omnitalker.face.fingerprint import face_model_id
from omnitalker.face.fitting import fitted_landmarks_px


@dataclass
class Args:
    video: str | None = None
    out: str | None = None  # None -> <video stem>.codes.npz in the current directory
    overlay: str | None = None
    face_model: str | None = None
    extract: ExtractConfig = field(default_factory=ExtractConfig)


USAGE = "usage: python scripts/extract_codes.py VIDEO [OUT.npz] [key=value ...]  (or video=VIDEO out=OUT.npz ...)"
_OPTION = re.compile(r"^[A-Za-z_][\w.]*=")  # key=value (a path with '=' in it, e.g. 'a=b.mp4', is positional too)


def parse_args(argv: list[str]) -> Args:
    """Positional VIDEO [OUT] and key=value overrides -> Args. ValueError (one line) on a bad argument."""
    positional = [a for a in argv if not _OPTION.match(a)]
    options = [a for a in argv if _OPTION.match(a)]
    if len(positional) > 2:
        raise ValueError(f"expected at most VIDEO and OUT as positional arguments, got {positional}")
    options += [f"{key}={value}" for key, value in zip(("video", "out"), positional, strict=False)]
    # accept the short forms landmarker.* / fit.* / checks.* for the nested extract config
    options = [f"extract.{a}" if a.split("=")[0].split(".")[0] in ("landmarker", "fit", "checks") else a for a in options]
    try:
        args = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Args), OmegaConf.from_dotlist(options)))
    except OmegaConfBaseException as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc
    if not args.video:
        raise ValueError("no video given")
    if not args.out:
        args.out = f"{Path(args.video).stem}.codes.npz"
    return args


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        args = parse_args(argv)
    except ValueError as exc:
        print(f"error: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    args.extract.landmarker.progress = True
    try:
        model = FaceModel.load(args.face_model) if args.face_model else FaceModel.default()
        track, result = extract_codes_with_fit(args.video, args.extract, face_model=model)
    except FaceError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    report = result.report()
    report.update(
        video=args.video,
        face_fraction=float(track.detected.mean()),
        multi_face_fraction=multi_face_fraction(track, args.extract.checks.min_second_face_ratio),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.npz")
    np.savez(
        tmp,
        codes=result.codes,
        fps=result.fps,
        fit_error=result.fit_error,
        interpolated=result.interpolated,
        code_names=np.array(CODE_NAMES),
        scale_ref=result.scale_ref,
        centre_ref=result.centre_ref,
        identity=result.identity,
        report=json.dumps(report),
        face_model=face_model_id(model),  # inference checks it against the DiT's corpus face model
    )
    os.replace(tmp, out)
    if args.overlay:
        from omnitalker.face.overlay import write_overlay

        write_overlay(args.video, args.overlay, fitted_landmarks_px(result, model), track.landmarks[..., :2])
    print(json.dumps(report, indent=1))
    print(
        f"codes {result.codes.shape} at {result.fps:g} fps -> {out}; mean fit error "
        f"{report['fit_error_mean']:.2%} of the inter-ocular distance"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
