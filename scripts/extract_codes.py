"""Extract the 61-D visual codes of one video and print the fit quality.

    python scripts/extract_codes.py video=path/to/clip.mp4 out=codes.npz [overlay=overlay.mp4] \
        [face_model=omnitalker/face/assets/face_model_v1.safetensors] [landmarker.model_path=face_landmarker.task] \
        [fit.iterations=150] [checks.min_face_fraction=0.8]

`out` is an .npz with `codes` (T, 61) float32, `fps`, `fit_error` (T,), `interpolated` (T,), `code_names`,
`scale_ref`, `centre_ref` (the weak-perspective references, see omnitalker/face/face_model.py) and the report as JSON.
Exit status 2 with a one-line message on a face error (no face, several faces, unreadable video, too short).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from omnitalker.constants import CODE_NAMES
from omnitalker.face.errors import FaceError
from omnitalker.face.extract import ExtractConfig, extract_codes_with_fit, multi_face_fraction
from omnitalker.face.face_model import FaceModel
from omnitalker.face.fingerprint import face_model_id
from omnitalker.face.fitting import fitted_landmarks_px


@dataclass
class Args:
    video: str = "???"
    out: str = "???"
    overlay: str | None = None
    face_model: str | None = None
    extract: ExtractConfig = field(default_factory=ExtractConfig)


def main(argv: list[str]) -> int:
    # accept the short forms landmarker.* / fit.* / checks.* for the nested extract config
    argv = [f"extract.{a}" if a.split("=")[0].split(".")[0] in ("landmarker", "fit", "checks") else a for a in argv]
    args = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Args), OmegaConf.from_dotlist(argv)))
    args.extract.landmarker.progress = True
    model = FaceModel.load(args.face_model) if args.face_model else FaceModel.default()
    try:
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
