"""Renderer weights on disk: ``renderer.safetensors`` (weights + config JSON in the metadata) and a copy of the face
model it was trained with (``face_model.safetensors``), so a renderer directory is self-contained."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from omnitalker.face.face_model import FaceModel
from omnitalker.render.config import RendererConfig
from omnitalker.render.errors import RenderError, WeightsNotFoundError
from omnitalker.render.renderer import Renderer

WEIGHTS_NAME = "renderer.safetensors"
FACE_MODEL_NAME = "face_model.safetensors"
FORMAT = "omnitalker-renderer"


def save_renderer(renderer: Renderer, directory: str | os.PathLike[str]) -> Path:
    """Write weights (atomically) and the face model into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    renderer.face_model.save(directory / FACE_MODEL_NAME)
    state = {k: v.detach().cpu().contiguous() for k, v in renderer.state_dict().items()}
    metadata = {"format": FORMAT, "config": json.dumps(renderer.cfg.to_dict())}
    tmp = directory / f".{WEIGHTS_NAME}.tmp{os.getpid()}"
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, directory / WEIGHTS_NAME)
    return directory


def load_renderer(directory: str | os.PathLike[str], device: str | torch.device = "cpu") -> Renderer:
    """Load a directory written by :func:`save_renderer` (raises WeightsNotFoundError naming a missing file)."""
    from safetensors import safe_open

    directory = Path(directory).expanduser()
    weights, face = directory / WEIGHTS_NAME, directory / FACE_MODEL_NAME
    for path in (weights, face):
        if not path.is_file():
            raise WeightsNotFoundError(
                f"missing renderer file {path} (a renderer directory holds {WEIGHTS_NAME} and {FACE_MODEL_NAME}; "
                "write one with scripts/train_renderer.py)"
            )
    try:  # safetensors: tensors + a JSON header, nothing in it can run code
        with safe_open(str(weights), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises several unrelated types on a malformed header
        raise RenderError(f"cannot read renderer weights {weights}: not a safetensors file ({exc})") from exc
    if metadata.get("format") != FORMAT:
        raise RenderError(f"{weights} is not an OmniTalker renderer file (format={metadata.get('format')!r})")
    try:
        cfg = RendererConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RenderError(f"{weights}: invalid renderer config in its metadata ({exc})") from exc
    renderer = Renderer(cfg, FaceModel.load(face))
    try:
        renderer.load_state_dict(load_file(str(weights)))
    except RuntimeError as exc:
        raise RenderError(f"{weights} does not match its own config: {exc}") from exc
    return renderer.to(device).eval()
