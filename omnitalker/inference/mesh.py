"""``renderer=mesh`` in inference: the training-free mesh renderer (`omnitalker.meshrender`) drives the identity
image by the generated codes, with relative motion (like scripts/mesh_render.py): the image keeps its own fitted
pose and expression and takes the generated codes' change from the identity code they were prompted with."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from omnitalker.inference.errors import IdentityImageError

MESH_RENDERER = "mesh"  # the value of PipelineConfig.renderer / infer.py renderer= that selects it
_CACHE: dict = {}  # the last identity's MeshRenderer


def render_mesh(identity_image: np.ndarray, identity_code: torch.Tensor | np.ndarray, codes: torch.Tensor,
                video_size: int, face_model: str | None = None, progress: bool = False) -> torch.Tensor:
    """``identity_image`` (H, W, 3) uint8, ``identity_code`` (61,), ``codes`` (T, 61) at the video rate ->
    (T, 3, h, w) float frames in [0, 1] (longer side ``video_size``)."""
    from omnitalker.face.face_model import FaceModel
    from omnitalker.meshrender.renderer import MeshRenderer
    from omnitalker.meshrender.retarget import retarget_codes
    from omnitalker.meshrender.rig import FaceImageError

    image = np.ascontiguousarray(identity_image)
    key = (hashlib.sha256(image.tobytes()).hexdigest(), image.shape, face_model, video_size)
    renderer = _CACHE.get(key)
    if renderer is None:  # the rig (landmarks + fit) is built once per identity: batch jobs often share one
        model = FaceModel.load(face_model) if face_model else FaceModel.default()
        try:
            renderer = MeshRenderer(image, face_model=model, max_side=video_size)
        except FaceImageError as exc:
            raise IdentityImageError(f"renderer=mesh: {exc}") from exc
        _CACHE.clear()
        _CACHE[key] = renderer
    driving = retarget_codes(np.asarray(codes, np.float32), renderer.source_code.numpy(),
                             anchor_code=np.asarray(identity_code, np.float32))  # (T, 61)
    frames = renderer.render(driving, progress=progress)  # (T, h, w, 3) uint8
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)  # (T, 3, h, w)
