"""A hand-placed 2-D/3-D keypoint rig on a real face photo, and the visual code -> driving keypoints mapping.

The texture is the astronaut portrait bundled with scikit-image (``skimage.data.astronaut``, public domain, no
download), cropped to the head and upscaled to 512x512. The keypoints below were placed once by inspecting that crop:
eyes (lids, creases, iris centre), brows, nose, lips (outer, inner, the lower edge of the upper teeth), chin, face
contour, hair outline, neck, plus static anchors on the image border. Each has a pseudo-depth so that yaw/pitch show
parallax. Conventions follow ``omnitalker.face.pose``: x right, y down, z into the scene; positive yaw turns the nose
to the image left, positive pitch tilts it down, positive roll turns the face clockwise; translation is in face units
(outer-eye-corner distance), ``tz`` is log scale. "Left"/"right" in blendshape names are the SUBJECT's sides (the
subject's left eye is on the image right).

Expression is a small linear 2-D displacement model per blendshape (plus a multiplicative eyelid closure for blinks
and an iris shift for gaze), so every code dimension that a talking head uses visibly moves the rendered face.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from omnitalker.constants import BLENDSHAPE_NAMES, CODE_DIM, EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE, RENDER_SIZE
from omnitalker.face.pose import euler_to_matrix

# crop of skimage.data.astronaut() (rows, cols) that frames the head; upscaled to RENDER_SIZE
TEXTURE_CROP: tuple[slice, slice] = (slice(5, 215), slice(125, 335))
PHOTO_SIZE = 512  # keypoints below are in pixels of the 512x512 upscaled crop

# name: (x, y, depth in face units (into the scene, nose tip = 0), group)
_KEYPOINTS: dict[str, tuple[float, float, float, str]] = {
    # subject's right eye (image left): corners, upper lid, lower lid, iris centre, lid crease
    "reye_outer": (166, 234, 0.50, "face"), "reye_up1": (176, 228, 0.40, "face"), "reye_up2": (189, 225, 0.38, "face"),
    "reye_up3": (202, 228, 0.38, "face"), "reye_inner": (213, 236, 0.36, "face"), "reye_lo3": (203, 241, 0.38, "face"),
    "reye_lo2": (190, 243, 0.38, "face"), "reye_lo1": (176, 240, 0.42, "face"), "reye_iris": (189, 234, 0.36, "face"),
    "reye_crease1": (176, 219, 0.42, "face"), "reye_crease2": (190, 216, 0.40, "face"),
    "reye_crease3": (204, 219, 0.40, "face"),
    # subject's left eye (image right)
    "leye_inner": (273, 243, 0.36, "face"), "leye_up3": (283, 236, 0.38, "face"), "leye_up2": (296, 232, 0.38, "face"),
    "leye_up1": (310, 233, 0.40, "face"), "leye_outer": (322, 240, 0.50, "face"), "leye_lo1": (311, 246, 0.42, "face"),
    "leye_lo2": (297, 249, 0.38, "face"), "leye_lo3": (284, 248, 0.38, "face"), "leye_iris": (295, 240, 0.36, "face"),
    "leye_crease3": (282, 227, 0.40, "face"), "leye_crease2": (296, 223, 0.40, "face"),
    "leye_crease1": (311, 224, 0.42, "face"),
    # brows, outer to inner
    "rbrow1": (158, 212, 0.50, "face"), "rbrow2": (172, 207, 0.42, "face"), "rbrow3": (187, 205, 0.36, "face"),
    "rbrow4": (202, 207, 0.33, "face"), "rbrow5": (216, 212, 0.32, "face"),
    "lbrow5": (266, 219, 0.32, "face"), "lbrow4": (282, 214, 0.33, "face"), "lbrow3": (298, 211, 0.36, "face"),
    "lbrow2": (314, 211, 0.42, "face"), "lbrow1": (330, 216, 0.50, "face"),
    "forehead1": (200, 185, 0.40, "face"), "forehead2": (245, 188, 0.35, "face"), "forehead3": (292, 194, 0.40, "face"),
    # nose
    "nose_bridge": (242, 250, 0.25, "face"), "nose_mid": (243, 275, 0.12, "face"), "nose_tip": (245, 298, 0.0, "face"),
    "rnostril": (226, 306, 0.15, "face"), "lnostril": (265, 307, 0.15, "face"), "subnasal": (246, 313, 0.12, "face"),
    # lips: corners, upper outer, upper inner (lip edge), upper teeth edge, lower inner, lower outer
    "mouth_rcorner": (190, 331, 0.30, "face"), "mouth_lcorner": (290, 329, 0.30, "face"),
    "uo1": (205, 326, 0.22, "face"), "uo2": (222, 323, 0.18, "face"), "uo3": (240, 324, 0.16, "face"),
    "uo4": (258, 322, 0.18, "face"), "uo5": (275, 324, 0.22, "face"),
    "ui1": (205, 333, 0.24, "face"), "ui2": (222, 335, 0.20, "face"), "ui3": (240, 336, 0.18, "face"),
    "ui4": (258, 335, 0.20, "face"), "ui5": (275, 333, 0.24, "face"),
    "teeth1": (208, 342, 0.26, "face"), "teeth2": (223, 348, 0.22, "face"), "teeth3": (240, 350, 0.20, "face"),
    "teeth4": (258, 347, 0.22, "face"), "teeth5": (274, 340, 0.26, "face"),
    "li1": (208, 344, 0.26, "face"), "li2": (223, 350, 0.22, "face"), "li3": (240, 352, 0.20, "face"),
    "li4": (258, 349, 0.22, "face"), "li5": (274, 342, 0.26, "face"),
    "lo1": (211, 353, 0.26, "face"), "lo2": (225, 361, 0.22, "face"), "lo3": (242, 364, 0.20, "face"),
    "lo4": (260, 361, 0.22, "face"), "lo5": (274, 352, 0.26, "face"),
    # chin, cheeks
    "chin": (242, 395, 0.22, "face"), "rchin": (208, 398, 0.32, "face"), "lchin": (278, 396, 0.32, "face"),
    "rnasolabial": (200, 312, 0.30, "face"), "lnasolabial": (285, 312, 0.30, "face"),
    "rcheek": (180, 285, 0.45, "face"), "lcheek": (305, 290, 0.45, "face"),
    "rcheek_low": (172, 335, 0.50, "face"), "lcheek_low": (310, 338, 0.50, "face"),
    # face contour, image left to image right through the chin
    "c1": (150, 255, 0.95, "face"), "c2": (148, 290, 0.90, "face"), "c3": (152, 325, 0.85, "face"),
    "c4": (160, 355, 0.75, "face"), "c5": (175, 383, 0.62, "face"), "c6": (195, 405, 0.50, "face"),
    "c7": (215, 417, 0.40, "face"), "c8": (242, 421, 0.35, "face"), "c9": (270, 416, 0.40, "face"),
    "c10": (295, 402, 0.50, "face"), "c11": (315, 383, 0.62, "face"), "c12": (330, 357, 0.75, "face"),
    "c13": (340, 328, 0.85, "face"), "c14": (346, 298, 0.90, "face"), "c15": (348, 268, 0.95, "face"),
    # hair outline (moves rigidly with the head)
    "hair1": (255, 25, 0.80, "head"), "hair2": (180, 45, 0.85, "head"), "hair3": (100, 92, 0.95, "head"),
    "hair4": (75, 160, 1.00, "head"), "hair5": (72, 220, 1.00, "head"), "hair6": (100, 270, 1.00, "head"),
    "hair7": (130, 292, 1.00, "head"), "hair8": (330, 45, 0.85, "head"), "hair9": (395, 95, 0.95, "head"),
    "hair10": (428, 160, 1.00, "head"), "hair11": (430, 220, 1.00, "head"), "hair12": (410, 280, 1.00, "head"),
    "hair13": (372, 312, 1.00, "head"),
    # neck and shoulders: static (the body does not follow the head)
    "neck1": (148, 452, 0.0, "static"), "neck2": (200, 488, 0.0, "static"), "neck3": (250, 498, 0.0, "static"),
    "neck4": (300, 484, 0.0, "static"), "neck5": (338, 445, 0.0, "static"),
    # static ring in the background around the hair: the background outside it never moves (no warp needed there)
    "ring1": (68, 52, 0.0, "static"), "ring2": (30, 160, 0.0, "static"), "ring3": (28, 228, 0.0, "static"),
    "ring4": (55, 295, 0.0, "static"), "ring5": (92, 330, 0.0, "static"), "ring6": (378, 12, 0.0, "static"),
    "ring7": (442, 62, 0.0, "static"), "ring8": (474, 160, 0.0, "static"), "ring9": (478, 228, 0.0, "static"),
    "ring10": (458, 302, 0.0, "static"), "ring11": (408, 352, 0.0, "static"), "ring12": (140, 10, 0.0, "static"),
}

KEYPOINT_NAMES: tuple[str, ...] = tuple(_KEYPOINTS)
_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
_BORDER_STEP = 64

# face unit = distance between the outer eye corners (omnitalker.face.face_model convention)
FACE_UNIT_PX: float = float(np.hypot(322 - 166, 240 - 234))
HEAD_CENTER_DEPTH_FU = 0.8  # rotation centre this far behind the face keypoints' mean depth

UPPER_TEETH = ("teeth1", "teeth2", "teeth3", "teeth4", "teeth5")
LOWER_INNER_LIP = ("li1", "li2", "li3", "li4", "li5")
MOUTH_CAVITY_RING = ("mouth_rcorner",) + UPPER_TEETH + ("mouth_lcorner",) + LOWER_INNER_LIP[::-1]


def _idx(*names: str) -> list[int]:
    return [_INDEX[n] for n in names]


def _border_anchors() -> np.ndarray:
    """Static points just outside the image on all four sides, so the mesh covers every pixel."""
    lo, hi = -1.0, PHOTO_SIZE + 0.0
    ticks = np.arange(0, PHOTO_SIZE + 1, _BORDER_STEP, dtype=np.float64)
    ticks[-1] = hi
    ticks[0] = lo
    top = np.stack([ticks, np.full_like(ticks, lo)], 1)
    bottom = np.stack([ticks, np.full_like(ticks, hi)], 1)
    left = np.stack([np.full_like(ticks[1:-1], lo), ticks[1:-1]], 1)
    right = np.stack([np.full_like(ticks[1:-1], hi), ticks[1:-1]], 1)
    return np.concatenate([top, bottom, left, right])


def _expression_basis() -> np.ndarray:
    """(51, K, 2) pixel displacement of each keypoint per unit of each blendshape (eyeBlink handled separately)."""
    basis = np.zeros((len(BLENDSHAPE_NAMES), len(KEYPOINT_NAMES), 2), dtype=np.float64)

    def move(shape: str, names, dx: float, dy: float) -> None:
        b = BLENDSHAPE_NAMES.index(shape)
        for n in ([names] if isinstance(names, str) else names):
            basis[b, _INDEX[n]] += (dx, dy)

    lower_lip = LOWER_INNER_LIP + ("lo1", "lo2", "lo3", "lo4", "lo5")
    # jaw: the lower lip and chin drop; contour points drop in proportion to how low they sit (jaw hinge rotation)
    move("jawOpen", lower_lip, 0, 40)
    move("jawOpen", ("chin", "c8"), 0, 34)
    move("jawOpen", ("rchin", "c7"), 2, 31)
    move("jawOpen", ("lchin", "c9"), -2, 31)
    move("jawOpen", ("c6",), 3, 24)
    move("jawOpen", ("c10",), -3, 24)
    move("jawOpen", ("c5",), 3, 16)
    move("jawOpen", ("c11",), -3, 16)
    move("jawOpen", ("c4",), 2, 9)
    move("jawOpen", ("c12",), -2, 9)
    move("jawOpen", ("mouth_rcorner",), 3, 12)
    move("jawOpen", ("mouth_lcorner",), -3, 12)
    move("jawOpen", ("rcheek_low",), 1, 8)
    move("jawOpen", ("lcheek_low",), -1, 8)
    # mouthClose: lips closed while the jaw is open (used together with jawOpen, never above it)
    move("mouthClose", lower_lip, 0, -36)
    move("mouthClose", ("mouth_rcorner",), 0, -6)
    move("mouthClose", ("mouth_lcorner",), 0, -6)
    for side, sgn, corner in (("Left", 1, "mouth_lcorner"), ("Right", -1, "mouth_rcorner")):
        up_lip = ("uo4", "uo5", "ui4", "ui5") if side == "Left" else ("uo1", "uo2", "ui1", "ui2")
        lo_lip = ("li4", "li5", "lo4", "lo5") if side == "Left" else ("li1", "li2", "lo1", "lo2")
        cheek = "lnasolabial" if side == "Left" else "rnasolabial"
        move(f"mouthSmile{side}", corner, 10 * sgn, -10)
        move(f"mouthSmile{side}", cheek, 3 * sgn, -4)
        move(f"mouthSmile{side}", lo_lip, 2 * sgn, -2)
        move(f"mouthStretch{side}", corner, 10 * sgn, 3)
        move(f"mouthStretch{side}", lo_lip, 3 * sgn, 1)
        move(f"mouthFrown{side}", corner, 1 * sgn, 9)
        move(f"mouthDimple{side}", corner, 5 * sgn, 0)
        move(f"mouthLowerDown{side}", lo_lip, 0, 6)
        move(f"mouthUpperUp{side}", up_lip, 0, -5)
        move(f"mouthPress{side}", ("li4", "li5") if side == "Left" else ("li1", "li2"), 0, -1)
        move(f"mouthPress{side}", corner, 2 * sgn, 0)
        move(f"cheekSquint{side}", ("leye_lo1", "leye_lo2", "leye_lo3") if side == "Left"
             else ("reye_lo1", "reye_lo2", "reye_lo3"), 0, -2)
        move(f"cheekSquint{side}", "lcheek" if side == "Left" else "rcheek", 0, -5)
        eye = "leye" if side == "Left" else "reye"
        move(f"eyeSquint{side}", (f"{eye}_lo1", f"{eye}_lo2", f"{eye}_lo3"), 0, -3)
        move(f"eyeWide{side}", (f"{eye}_up1", f"{eye}_up2", f"{eye}_up3"), 0, -3)
        move(f"eyeWide{side}", (f"{eye}_crease1", f"{eye}_crease2", f"{eye}_crease3"), 0, -2)
        brow = "lbrow" if side == "Left" else "rbrow"
        move(f"browOuterUp{side}", (f"{brow}1", f"{brow}2"), 0, -8)
        move(f"browOuterUp{side}", (f"{brow}3",), 0, -4)
        move(f"browDown{side}", (f"{brow}3", f"{brow}4", f"{brow}5"), -3 * sgn, 6)
        move(f"browDown{side}", (f"{brow}1", f"{brow}2"), 0, 3)
        move(f"noseSneer{side}", "lnostril" if side == "Left" else "rnostril", 0, -3)
        move("cheekPuff", "lcheek_low" if side == "Left" else "rcheek_low", 6 * sgn, 0)
    move("browInnerUp", ("rbrow4", "rbrow5", "lbrow4", "lbrow5"), 0, -8)
    move("browInnerUp", ("rbrow3", "lbrow3"), 0, -4)
    # lip rounding: corners move in, the opening gets rounder / the lips protrude
    move("mouthFunnel", "mouth_rcorner", 12, 0)
    move("mouthFunnel", "mouth_lcorner", -12, 0)
    move("mouthFunnel", ("uo1", "uo2", "uo3", "uo4", "uo5", "ui2", "ui3", "ui4"), 0, -3)
    move("mouthFunnel", ("lo2", "lo3", "lo4", "li2", "li3", "li4"), 0, 5)
    move("mouthFunnel", ("uo1", "ui1", "teeth1", "li1", "lo1"), 6, 0)
    move("mouthFunnel", ("uo5", "ui5", "teeth5", "li5", "lo5"), -6, 0)
    move("mouthPucker", "mouth_rcorner", 16, 1)
    move("mouthPucker", "mouth_lcorner", -16, 1)
    move("mouthPucker", ("uo1", "ui1", "teeth1", "li1", "lo1"), 8, 0)
    move("mouthPucker", ("uo5", "ui5", "teeth5", "li5", "lo5"), -8, 0)
    move("mouthPucker", ("uo2", "uo3", "uo4"), 0, 2)
    move("mouthPucker", ("lo2", "lo3", "lo4"), 0, -3)
    move("mouthRollLower", ("lo1", "lo2", "lo3", "lo4", "lo5"), 0, -5)
    move("mouthRollLower", LOWER_INNER_LIP, 0, -1)
    move("mouthRollUpper", ("uo1", "uo2", "uo3", "uo4", "uo5"), 0, 4)
    move("mouthShrugLower", ("lo1", "lo2", "lo3", "lo4", "lo5", "chin"), 0, -4)
    move("mouthShrugUpper", ("uo1", "uo2", "uo3", "uo4", "uo5"), 0, -3)
    mouth = ("mouth_rcorner", "mouth_lcorner") + tuple(
        f"{p}{i}" for p in ("uo", "ui", "teeth", "li", "lo") for i in range(1, 6))
    move("mouthLeft", mouth, 10, 0)
    move("mouthRight", mouth, -10, 0)
    jaw = lower_lip + ("chin", "rchin", "lchin", "c7", "c8", "c9")
    move("jawLeft", jaw, 10, 0)
    move("jawRight", jaw, -10, 0)
    move("jawForward", jaw, 0, 3)
    return basis


@dataclass(frozen=True)
class FaceRig:
    """Keypoints, mesh and expression model of the textured face (all tensors float32 on CPU).

    ``points`` (P, 2) rest positions in pixels (face, head, static and border points); ``depth`` (P,) pixels into the
    scene; ``movable`` (P,) bool (False for neck/border anchors); ``triangles`` (T, 3) long mesh over ``points``;
    ``cavity`` (T,) bool triangles that tile the mouth opening (between the upper-teeth edge and the lower inner lip;
    the renderer paints that region as the inside of the mouth); ``expression_basis`` (51, P, 2); ``center`` (3,)
    rotation centre in pixels.
    """

    points: Tensor
    depth: Tensor
    movable: Tensor
    triangles: Tensor
    cavity: Tensor
    expression_basis: Tensor
    center: Tensor
    names: tuple[str, ...]  # (P,) keypoint names
    groups: tuple[str, ...]  # (P,) "face" (expression + pose), "head" (pose only), "static" or "border"

    @property
    def num_points(self) -> int:
        return self.points.shape[0]

    def index(self, names: tuple[str, ...] | list[str]) -> list[int]:
        """Positions of named keypoints in ``points``."""
        lookup = {n: i for i, n in enumerate(self.names)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise KeyError(f"unknown rig keypoints {missing}")
        return [lookup[n] for n in names]

    def driving_points(self, codes: Tensor) -> Tensor:
        """(B, 61) visual codes -> (B, P, 2) driving keypoints in pixels of the 512x512 frame."""
        if codes.dim() != 2 or codes.shape[-1] != CODE_DIM:
            raise ValueError(f"codes must have shape (frames, {CODE_DIM}), got {tuple(codes.shape)}")
        codes = codes.float()
        expr = codes[:, EXPRESSION_SLICE].clamp(0.0, 1.0)  # (B, 51)
        pose = codes[:, POSE_SLICE]  # (B, 6)
        gaze = codes[:, EYE_SLICE]  # (B, 4)
        xy = self.points.expand(codes.shape[0], -1, -1).clone()  # (B, P, 2)
        xy = self._close_eyelids(xy, expr)
        xy = xy + torch.einsum("be,epc->bpc", expr, self.expression_basis)  # (B, P, 2)
        xy = self._move_irises(xy, gaze)
        xyz = torch.cat([xy, self.depth.expand(codes.shape[0], -1).unsqueeze(-1)], dim=-1)  # (B, P, 3)
        rot = euler_to_matrix(pose[:, 0], pose[:, 1], pose[:, 2])  # (B, 3, 3)
        scale = torch.exp(pose[:, 5]).view(-1, 1, 1)  # (B, 1, 1)
        shift = torch.stack([pose[:, 3], pose[:, 4]], dim=-1).unsqueeze(1) * FACE_UNIT_PX  # (B, 1, 2)
        posed = scale * torch.einsum("bij,bpj->bpi", rot, xyz - self.center) + self.center  # (B, P, 3)
        posed_xy = posed[..., :2] + shift  # (B, P, 2)
        return torch.where(self.movable.view(1, -1, 1), posed_xy, self.points.expand_as(posed_xy))

    def _close_eyelids(self, xy: Tensor, expr: Tensor) -> Tensor:
        """Blink: upper lid, iris and (partly) crease collapse onto the lower-lid line of their eye."""
        for side, eye in (("Left", "leye"), ("Right", "reye")):
            blink = expr[:, BLENDSHAPE_NAMES.index(f"eyeBlink{side}")].view(-1, 1)  # (B, 1)
            pairs = [(f"{eye}_up{i}", f"{eye}_lo{i}", 0.94) for i in (1, 2, 3)]
            pairs += [(f"{eye}_iris", f"{eye}_lo2", 0.94)]
            pairs += [(f"{eye}_crease{i}", f"{eye}_lo{i}", 0.4) for i in (1, 2, 3)]
            moving, anchor, amount = zip(*pairs)
            m, a = _idx(*moving), _idx(*anchor)
            gap = xy[:, m, 1] - xy[:, a, 1]  # (B, n) negative: lids above the lower lid
            frac = torch.tensor(amount, dtype=xy.dtype).view(1, -1)
            xy[:, m, 1] = xy[:, a, 1] + gap * (1 - frac * blink)
        return xy

    def _move_irises(self, xy: Tensor, gaze: Tensor) -> Tensor:
        """Gaze (yaw, pitch per eye) shifts the iris centre inside the eye, clipped to stay inside the lids."""
        for eye, cols in (("leye", (0, 1)), ("reye", (2, 3))):
            i = _INDEX[f"{eye}_iris"]
            dx = (-gaze[:, cols[0]] * 30.0).clamp(-9.0, 9.0)  # positive yaw = looking to the image left
            dy = (gaze[:, cols[1]] * 20.0).clamp(-4.0, 4.0)  # positive pitch = looking down
            xy[:, i, 0] = xy[:, i, 0] + dx
            xy[:, i, 1] = xy[:, i, 1] + dy
        return xy


def _triangulate(points: np.ndarray, cavity_ring: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Delaunay mesh on a mouth-open reference pose; returns triangles and the cavity mask (validated)."""
    from matplotlib.path import Path as PolyPath
    from scipy.spatial import Delaunay

    tri = Delaunay(points).simplices.astype(np.int64)  # (T, 3)
    ring = set(cavity_ring)
    polygon = PolyPath(points[cavity_ring])
    centroids = points[tri].mean(axis=1)
    cavity = np.array([set(t.tolist()) <= ring for t in tri]) & polygon.contains_points(centroids)
    a, b, c = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
    signed = 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    tri[signed < 0] = tri[signed < 0][:, [0, 2, 1]]  # consistent (positive, y-down) orientation
    ring_pts = points[cavity_ring]
    ring_area = 0.5 * abs(np.dot(ring_pts[:, 0], np.roll(ring_pts[:, 1], -1))
                          - np.dot(ring_pts[:, 1], np.roll(ring_pts[:, 0], -1)))
    if not np.isclose(np.abs(signed[cavity]).sum(), ring_area, rtol=1e-6):
        raise RuntimeError("face rig: the mesh does not tile the mouth opening exactly; adjust the lip keypoints")
    return tri, cavity


@lru_cache(maxsize=1)
def default_rig() -> FaceRig:
    """The rig for the astronaut photo (built once per process)."""
    face = np.array([(v[0], v[1]) for v in _KEYPOINTS.values()], dtype=np.float64)
    depth = np.array([v[2] for v in _KEYPOINTS.values()], dtype=np.float64) * FACE_UNIT_PX
    groups = [v[3] for v in _KEYPOINTS.values()]
    border = _border_anchors()
    points = np.concatenate([face, border])
    depth = np.concatenate([depth, np.zeros(len(border))])
    movable = np.array([g != "static" for g in groups] + [False] * len(border))
    basis = np.concatenate([_expression_basis(), np.zeros((len(BLENDSHAPE_NAMES), len(border), 2))], axis=1)

    # triangulate with the mouth open so that the lips/teeth/cavity get their own triangles
    ring = _idx(*MOUTH_CAVITY_RING)
    open_pose = points + 0.6 * basis[BLENDSHAPE_NAMES.index("jawOpen")]
    triangles, cavity = _triangulate(open_pose, ring)

    face_mask = np.array([g == "face" for g in groups])
    center = np.array([*face[face_mask].mean(axis=0), depth[: len(face)][face_mask].mean()
                       + HEAD_CENTER_DEPTH_FU * FACE_UNIT_PX])
    f32 = lambda a: torch.tensor(a, dtype=torch.float32)
    return FaceRig(
        points=f32(points), depth=f32(depth), movable=torch.tensor(movable), triangles=torch.tensor(triangles),
        cavity=torch.tensor(cavity), expression_basis=f32(basis), center=f32(center),
        names=KEYPOINT_NAMES + tuple(f"border{i}" for i in range(len(border))),
        groups=tuple(groups) + ("border",) * len(border),
    )


@lru_cache(maxsize=1)
def face_texture() -> Tensor:
    """(3, 512, 512) float32 in [0, 1]: the astronaut crop, upscaled with anti-aliased cubic interpolation."""
    from skimage import data, transform

    crop = data.astronaut()[TEXTURE_CROP]
    big = transform.resize(crop, (RENDER_SIZE, RENDER_SIZE), order=3, anti_aliasing=False)  # (512, 512, 3)
    return torch.from_numpy(np.clip(big, 0.0, 1.0)).float().permute(2, 0, 1).contiguous()
