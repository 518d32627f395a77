"""A short id of a face model's content, recorded wherever codes are fitted with it.

Visual codes are coefficients of one particular face model (mean shape + blendshape/gaze bases): codes fitted with
another model mean something else. The corpus index records the id of the model that fitted its codes, a DiT
checkpoint records its corpus's id, and inference compares it with the model that fits the reference.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from omnitalker.face.face_model import DEFAULT_MODEL_PATH, FACE_MODEL_VERSION, FaceModel


def face_model_id(model: FaceModel) -> str:
    """``face_model_v<version>-<16 hex digits of sha256(mean shape, expression and gaze bases)>``."""
    digest = hashlib.sha256()
    for name in ("mean_shape", "exp_basis", "eye_basis"):  # what the code fit depends on
        tensor = getattr(model, name).detach().float().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return f"face_model_v{FACE_MODEL_VERSION}-{digest.hexdigest()[:16]}"


@lru_cache(maxsize=8)
def _id_of_file(path: str, mtime_ns: int) -> str:
    return face_model_id(FaceModel.load(path))


def face_model_file_id(path: str | Path | None = None) -> str:
    """:func:`face_model_id` of the face model file at ``path`` (None: the bundled default), cached per file."""
    path = Path(path) if path else DEFAULT_MODEL_PATH
    if not path.is_file():
        return face_model_id(FaceModel.load(path))  # raises FaceModelNotFoundError naming the file
    return _id_of_file(str(path.resolve()), path.stat().st_mtime_ns)
