"""The training-free mesh renderer: one identity image + visual codes (T, 61) -> frames (T, H, W, 3) of that face.

Selectable in inference as ``renderer=mesh``; the GAN renderer stays the paper's. It needs no weights, so any real
face moves recognisably out of the box, and the evaluation suite gets a renderer baseline. What it cannot do: show
what the image does not (teeth and tongue are a painted cavity, the sclera an iris uncovers is one flat colour, closed
lids are the photo's lid skin stretched down, large yaw shears the face like a turned photo), and the torso and
background never move. The eyes are layered (`eyes.py`): an iris-free warp, the photo's iris discs pasted at the
driven centres and clipped by the lids, whose blink motion is scaled so they meet at eyeBlink 1.0.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from omnitalker.constants import BLENDSHAPE_NAMES, CODE_DIM
from omnitalker.face.face_model import FaceModel
from omnitalker.face.landmarks import LandmarkerConfig
from omnitalker.meshrender.eyes import EYE_LIDS, IrisLayer, lid_gaps, paste_irises, uncross_lids
from omnitalker.meshrender.mouth import paint_mouth_cavity
from omnitalker.meshrender.rig import FACE_OVAL, LOWER_INNER_LIP, UPPER_INNER_LIP, FaceImageError, build_image_rig
from omnitalker.meshrender.warp import PiecewiseAffineWarp

_BLINK = [BLENDSHAPE_NAMES.index(n) for n in ("eyeBlinkRight", "eyeBlinkLeft")]  # order of eyes.EYE_LIDS


def _working_size(height: int, width: int, max_side: int, multiple: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(height, width))
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


class MeshRenderer:
    """Renders ``codes`` as the face of ``image`` (H, W, 3) uint8 RGB, at the image's size (longer side capped at
    ``max_side``). ``source_code`` (61,) is the image's own fitted code: rendering it reproduces the image."""

    def __init__(self, image: np.ndarray, face_model: FaceModel | None = None,
                 landmarker: LandmarkerConfig | None = None, max_side: int = 1024, map_stride: int = 2,
                 batch_size: int = 8) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise FaceImageError(f"identity image must be an (H, W, 3) RGB array, got {getattr(image, 'shape', None)}")
        size = _working_size(image.shape[0], image.shape[1], max_side, map_stride)
        texture = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, h, w)
        if size != tuple(image.shape[:2]):
            texture = F.interpolate(texture, size=size, mode="bilinear", antialias=True, align_corners=False)
        self.texture = texture.clamp(0.0, 1.0)  # (1, 3, H, W)
        pixels = (self.texture[0].permute(1, 2, 0) * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).numpy()  # (H, W, 3)
        self.face_model = face_model or FaceModel.default()
        self.rig = build_image_rig(pixels, self.face_model, landmarker)
        self.warp = PiecewiseAffineWarp(self.rig.points, self.rig.triangles, self.rig.movable, self.rig.size,
                                        map_stride=map_stride)
        self.batch_size = batch_size
        self._source_px = self._model_px(self.rig.source_code[None])  # (1, 478, 2)
        self._oval = list(FACE_OVAL)
        self._lid_gain = self._blink_closure()  # (478,)
        self.irises = IrisLayer.from_points(self.rig.points)
        self._iris_free = self.irises.iris_free(self.texture, self.rig.points)  # (1, 3, H, W) what the mesh warps

    @property
    def source_code(self) -> torch.Tensor:
        return self.rig.source_code

    @property
    def size(self) -> tuple[int, int]:
        return self.rig.size

    def _model_px(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, 61) -> (B, 478, 2) the face model's landmarks in pixels of this image (its identity offset included)."""
        posed = self.face_model.posed(codes, identity=self.rig.identity)  # (B, 478, 3) face units
        return self.face_model.project(posed, self.rig.scale_ref, self.rig.centre_ref.expand(codes.shape[0], 2))

    def _blink_closure(self) -> torch.Tensor:
        """(478,) gain on the lid landmarks' blink motion: the face model's lids at eyeBlink 1.0 stay apart (a slit
        the face pipeline reads as a half-open eye), so each eye's lid points move by gain x the model's blink
        displacement, the gain that makes the lids of this image meet at 1.0 (1 elsewhere, at most 4)."""
        closed = self.rig.source_code[None].clone()  # (1, 61)
        closed[:, _BLINK] = 1.0
        landmarks = self.rig.points[None, :478]  # (1, 478, 2)
        gap_open = lid_gaps(landmarks)[0]  # (2,) in the order of EYE_LIDS
        gap_closed = lid_gaps(landmarks + self._model_px(closed) - self._source_px)[0]
        gain = (gap_open / (gap_open - gap_closed).clamp(min=1e-3)).clamp(1.0, 4.0)  # (2,)
        out = torch.ones(478)
        for eye, (upper, lower) in enumerate(EYE_LIDS):
            out[list(upper + lower)] = gain[eye]
        return out

    def driving_points(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, 61) -> (B, P, 2) mesh vertices: landmarks moved by the model's change from the source code (the lids'
        blink motion scaled by :meth:`_blink_closure`), the head ring point by the displacement of the face-oval
        landmark it was built from, frame anchors fixed."""
        model = self._model_px(codes)  # (B, 478, 2)
        open_codes = codes.clone()
        open_codes[:, _BLINK] = self.rig.source_code[_BLINK]  # the same codes with the photo's own blink
        blink = model - self._model_px(open_codes)  # (B, 478, 2) what the blink moves
        return uncross_lids(self._points_from_model(model + (self._lid_gain - 1.0)[None, :, None] * blink))

    def _points_from_model(self, model_px: torch.Tensor) -> torch.Tensor:
        """(B, 478, 2) model landmarks in pixels -> (B, P, 2) mesh vertices (see :meth:`driving_points`)."""
        rig = self.rig
        n = self._source_px.shape[1]
        delta = model_px - self._source_px  # (B, 478, 2)
        landmarks = rig.points[:n] + delta  # (B, 478, 2)
        ring = rig.points[rig.ring] + delta[:, self._oval]  # (B, R, 2): the ring follows the oval point by point
        anchors = rig.points[rig.ring.stop:].expand(model_px.shape[0], -1, -1)  # (B, A, 2)
        return torch.cat([landmarks, ring, anchors], dim=1)  # (B, P, 2)

    @torch.no_grad()
    def render_batch(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, 61) -> (B, 3, H, W) float frames in [0, 1]."""
        codes = torch.as_tensor(codes, dtype=torch.float32)
        if codes.dim() != 2 or codes.shape[1] != CODE_DIM:
            raise ValueError(f"codes must have shape (frames, {CODE_DIM}), got {tuple(codes.shape)}")
        if not torch.isfinite(codes).all():
            raise ValueError("codes contain NaN or infinite values (no face was fitted on those frames)")
        driving = self.driving_points(codes)  # (B, P, 2)
        frames = self.warp.warp(self._iris_free, driving)  # (B, 3, H, W) eyes without irises
        frames = paste_irises(frames, self.texture, driving, self.irises)  # the photo's irises at the driven centres
        return paint_mouth_cavity(frames, driving[:, list(UPPER_INNER_LIP)], driving[:, list(LOWER_INNER_LIP)],
                                  rest_gap=max(self.rig.mouth_open_px, 1.0))

    def iter_frames(self, codes: np.ndarray | torch.Tensor, progress: bool = False) -> Iterator[np.ndarray]:
        """Batches of uint8 frames (b, H, W, 3) for ``codes`` (T, 61), ``batch_size`` at a time (bounded memory)."""
        codes = torch.as_tensor(np.asarray(codes, dtype=np.float32))
        for start in tqdm(range(0, codes.shape[0], self.batch_size), desc="mesh render", disable=not progress):
            frames = self.render_batch(codes[start:start + self.batch_size])  # (b, 3, H, W)
            yield frames.mul_(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

    def render(self, codes: np.ndarray | torch.Tensor, progress: bool = False) -> np.ndarray:
        """(T, 61) codes -> (T, H, W, 3) uint8 RGB frames."""
        batches = list(self.iter_frames(codes, progress))
        return np.concatenate(batches) if batches else np.zeros((0, *self.size, 3), np.uint8)
