"""``renderer=mesh`` in inference: the training-free mesh renderer (`omnitalker.meshrender`) drives the identity
image by the generated codes, with relative motion (like scripts/mesh_render.py): the image keeps its own fitted
pose and expression and takes the generated codes' change from the identity code they were prompted with. Gaze lock
(controls.gaze_lock) is applied again after that retargeting: the portrait's own pose and gaze offsets would
otherwise turn the locked eyes away from the camera."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import torch

from omnitalker.inference.errors import IdentityImageError

MESH_RENDERER = "mesh"  # the value of PipelineConfig.renderer / infer.py renderer= that selects it
_CACHE: dict = {}  # the last identity's MeshRenderer


def mesh_rig(identity_image: np.ndarray, video_size: int, face_model: str | None = None):
    """The rigged identity (landmarks + fit), built once per identity image and kept for the next call (batch jobs
    often share one)."""
    from omnitalker.face.face_model import FaceModel
    from omnitalker.meshrender.renderer import MeshRenderer
    from omnitalker.meshrender.rig import FaceImageError

    image = np.ascontiguousarray(identity_image)
    key = (hashlib.sha256(image.tobytes()).hexdigest(), image.shape, face_model, video_size)
    renderer = _CACHE.get(key)
    if renderer is None:
        model = FaceModel.load(face_model) if face_model else FaceModel.default()
        try:
            renderer = MeshRenderer(image, face_model=model, max_side=video_size)
        except FaceImageError as exc:
            raise IdentityImageError(f"renderer=mesh: {exc}") from exc
        _CACHE.clear()
        _CACHE[key] = renderer
    return renderer


class MeshDriver:
    """``renderer=mesh`` behind the trained renderer's streaming interface (``prepare_identity`` once, then
    ``animate_batches`` per span of codes), so the chunk loop draws either one the same way."""

    def __init__(self, video_size: int, face_model: str | None = None) -> None:
        self.video_size, self.face_model = video_size, face_model

    def prepare_identity(self, identity_image: np.ndarray, identity_code: torch.Tensor, gaze_lock: bool = False):
        """(H, W, 3) uint8 identity image and its code (61,) -> (rig, anchor code (61,), gaze_lock)."""
        rig = mesh_rig(identity_image, self.video_size, self.face_model)
        return rig, np.asarray(identity_code, np.float32), bool(gaze_lock)

    def driving_codes(self, identity, codes: torch.Tensor | np.ndarray) -> np.ndarray:
        """(T, 61) generated codes -> (T, 61) codes of the portrait: relative retargeting, then gaze lock if on."""
        from omnitalker.controls.apply import lock_gaze
        from omnitalker.meshrender.retarget import retarget_codes

        rig, anchor, gaze_lock = identity
        driving = retarget_codes(np.asarray(codes, np.float32), rig.source_code.numpy(), anchor_code=anchor)  # (T, 61)
        return lock_gaze(driving) if gaze_lock else driving

    def animate_batches(self, identity, codes: torch.Tensor, batch_size: int = 16,
                        autocast_dtype: torch.dtype | None = None) -> Iterator[torch.Tensor]:
        """(T, 61) codes at the video rate -> (b, 3, h, w) float frames in [0, 1], ``batch_size`` at a time."""
        rig = identity[0]
        driving = self.driving_codes(identity, codes)  # (T, 61)
        for start in range(0, driving.shape[0], batch_size):
            frames = rig.render(driving[start:start + batch_size], progress=False)  # (b, h, w, 3) uint8
            yield torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)  # (b, 3, h, w)
