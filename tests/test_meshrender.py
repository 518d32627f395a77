"""Training-free mesh renderer: the generic piecewise-affine warp, and a real portrait driven by visual codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SHARED
from PIL import Image

from omnitalker.constants import BLENDSHAPE_NAMES, POSE_SLICE
from omnitalker.meshrender.mouth import mouth_cavity
from omnitalker.meshrender.renderer import MeshRenderer
from omnitalker.meshrender.rig import LOWER_INNER_LIP, UPPER_INNER_LIP, FaceImageError
from omnitalker.meshrender.warp import PiecewiseAffineWarp

FACES = SHARED / "media" / "faces"
JAW, BLINK_L, BLINK_R = (BLENDSHAPE_NAMES.index(n) for n in ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight"))


def _grid_mesh(size: int = 32):
    xs = torch.tensor([0.0, size / 2 - 0.5, size - 1.0])
    points = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), -1).reshape(-1, 2)  # (9, 2)
    tris = [[0, 1, 3], [1, 4, 3], [1, 2, 4], [2, 5, 4], [3, 4, 6], [4, 7, 6], [4, 5, 7], [5, 8, 7]]
    movable = torch.zeros(9, dtype=torch.bool)
    movable[4] = True  # only the centre moves
    return points, torch.tensor(tris), movable


def test_warp_is_identity_at_rest_and_moves_content_with_the_vertex():
    points, tris, movable = _grid_mesh()
    warp = PiecewiseAffineWarp(points, tris, movable, (32, 32), map_stride=1)
    texture = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(warp.warp(texture, points[None]), texture, atol=1e-5, rtol=0)
    moved = points.clone()
    moved[4] += torch.tensor([4.0, 0.0])
    source = warp.source_map(moved[None])[0]  # (32, 32, 2)
    torch.testing.assert_close(source[15, 19], points[4], atol=0.6, rtol=0)  # the centre now shows at x + 4


def test_folded_triangles_are_culled():
    points, tris, _ = _grid_mesh()
    warp = PiecewiseAffineWarp(points, tris, torch.ones(9, dtype=torch.bool), (32, 32), map_stride=1)
    mirrored = points.clone()
    mirrored[:, 0] = 31.0 - mirrored[:, 0]  # every triangle's winding flips: the mesh shows its back
    source = warp.source_map(mirrored[None])[0]  # (32, 32, 2)
    identity = torch.stack(torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="xy"), -1)
    assert torch.equal(source, identity)  # no back-facing triangle was drawn (unculled, this is the mirror image)


def test_mouth_cavity_fades_in_past_the_rest_gap():
    xs = torch.linspace(10, 30, 5)
    top = torch.stack([xs, torch.full_like(xs, 20.0)], -1)[None]  # (1, 5, 2)
    bottom = top + torch.tensor([0.0, 6.0])
    bottom[:, 0, 1] = bottom[:, -1, 1] = 20.0  # corners meet
    (_, _), alpha_closed_source, _ = mouth_cavity(top, bottom, (64, 64))
    (_, _), alpha_open_source, _ = mouth_cavity(top, bottom, (64, 64), rest_gap=6.0)
    assert float(alpha_closed_source.max()) == pytest.approx(1.0) and float(alpha_open_source.max()) < 1e-3


@pytest.fixture(scope="module")
def portrait_renderer():
    path = FACES / "aniportrait_Aragaki.png"
    if not path.is_file():
        pytest.skip(f"shared media missing: {path}")
    image = np.asarray(Image.open(path).convert("RGB"))
    return MeshRenderer(image, max_side=256), image


def _region_change(a: np.ndarray, b: np.ndarray, points: np.ndarray, pad: float = 4.0) -> float:
    x0, y0 = np.floor(points.min(0) - pad).astype(int)
    x1, y1 = np.ceil(points.max(0) + pad).astype(int)
    return float(np.abs(a[y0:y1, x0:x1].astype(float) - b[y0:y1, x0:x1]).mean())


def test_real_portrait_follows_the_codes(portrait_renderer):
    renderer, image = portrait_renderer
    assert renderer.size == (256, 256)
    codes = renderer.source_code.repeat(4, 1)
    codes[1, JAW] = 0.8
    codes[2, BLINK_L] = codes[2, BLINK_R] = 1.0
    codes[3, POSE_SLICE.start] += 0.1  # yaw
    frames = renderer.render(codes)
    assert frames.shape == (4, 256, 256, 3) and frames.dtype == np.uint8
    rest = np.asarray(Image.fromarray(image).resize((256, 256), Image.BILINEAR))
    assert np.abs(frames[0].astype(float) - rest).mean() < 2.0  # the source code reproduces the image
    lm = renderer.rig.points[:478].numpy()
    mouth = lm[list(UPPER_INNER_LIP + LOWER_INNER_LIP)]
    eyes = lm[[33, 133, 159, 145, 263, 362, 386, 374]]
    forehead = lm[[10, 109, 338, 67, 297]]
    assert _region_change(frames[1], frames[0], mouth) > 5 * _region_change(frames[1], frames[0], forehead)
    assert _region_change(frames[2], frames[0], eyes) > 5 * _region_change(frames[2], frames[0], forehead)
    assert _region_change(frames[3], frames[0], lm) > 2.0  # the head turns
    driving = renderer.driving_points(codes[3:])[0]
    corners = driving[renderer.rig.ring.stop:]
    torch.testing.assert_close(corners, renderer.rig.points[renderer.rig.ring.stop:])  # the frame stays put


def _profile_shift(a: np.ndarray, b: np.ndarray, corners: np.ndarray, centre_y: float) -> float:
    """Horizontal shift (px) that best maps frame ``a``'s luma profile across the eye (3 rows around the iris centre,
    between the ``corners``) onto ``b``'s, searched in 0.1 px steps."""
    x0, x1 = int(np.ceil(corners[:, 0].min())) + 2, int(np.floor(corners[:, 0].max())) - 2
    rows = slice(int(round(centre_y)) - 1, int(round(centre_y)) + 2)
    pa, pb = (f[rows].astype(float).mean(-1).mean(0) for f in (a, b))  # (W,) luma along x
    xs = np.arange(x0, x1, dtype=float)
    errors = {s: float(np.mean((np.interp(xs - s, np.arange(len(pa)), pa) - pb[x0:x1]) ** 2))
              for s in np.round(np.arange(-6.0, 6.01, 0.1), 1)}
    return min(errors, key=errors.get)


def test_gaze_moves_the_iris_as_a_disc(portrait_renderer):
    """Eye yaw in the codes slides the iris inside the eye as a disc (the warp alone would stretch it over the
    sclera): the eye's profile moves by the face model's iris displacement; no gaze change leaves the frame as is."""
    from omnitalker.meshrender.eyes import EYE_LIDS, IRIS_CENTRES

    renderer, _ = portrait_renderer
    src = renderer.source_code
    codes = src.repeat(3, 1)
    codes[1, 57:61:2] -= 0.35  # both eyes' yaw
    codes[2, 57:61:2] += 0.35
    frames = renderer.render(codes)
    model = renderer._model_px(codes)[:, list(IRIS_CENTRES), 0]  # (3, 2) iris centre x the face model asks for
    lm = renderer.rig.points.numpy()
    for eye, (upper, _) in enumerate(EYE_LIDS):
        corners, centre_y = lm[[upper[0], upper[-1]]], float(lm[IRIS_CENTRES[eye], 1])
        for k in (1, 2):
            asked = float(model[k, eye] - model[0, eye])
            assert abs(asked) > 2.0  # the test asks for a visible move
            moved = _profile_shift(frames[0], frames[k], corners, centre_y)
            assert abs(moved - asked) < 0.35 * abs(asked), (eye, k, moved, asked)
    assert np.abs(frames[0].astype(int) - renderer.render(src[None])[0]).max() == 0  # no gaze change: untouched


@pytest.mark.parametrize("name, match", [("blank", "no face"), ("two", "several faces"), ("tiny", "no face|px across")])
def test_unusable_identity_images_are_refused(name, match):
    if name == "blank":
        image = np.full((256, 256, 3), 128, np.uint8)
    else:
        path = SHARED / "media" / ("hard/facerec_two_people.jpg" if name == "two" else "faces/aniportrait_Aragaki.png")
        if not path.is_file():
            pytest.skip(f"shared media missing: {path}")
        image = np.asarray(Image.open(path).convert("RGB"))
        if name == "tiny":  # the portrait shrunk into a corner of a large empty frame
            small = np.asarray(Image.fromarray(image).resize((64, 64)))
            image = np.full((720, 720, 3), 200, np.uint8)
            image[20:84, 20:84] = small
    with pytest.raises(FaceImageError, match=match):
        MeshRenderer(image, max_side=720)


def test_retarget_adds_the_drivers_motion_to_the_portraits_own_code():
    from omnitalker.meshrender.retarget import retarget_codes

    rng = np.random.default_rng(0)
    driving = rng.uniform(0.0, 0.5, size=(5, 61)).astype(np.float32)
    source = rng.uniform(0.0, 0.5, size=61).astype(np.float32)
    out = retarget_codes(driving, source)
    np.testing.assert_allclose(out[0], source, atol=1e-6)  # the anchor frame is the portrait itself
    np.testing.assert_allclose(out[3, POSE_SLICE] - out[1, POSE_SLICE], driving[3, POSE_SLICE] - driving[1, POSE_SLICE],
                               atol=1e-6)
    absolute = retarget_codes(driving, source, expression="absolute")
    np.testing.assert_allclose(absolute[:, JAW], driving[:, JAW])
    assert retarget_codes(driving * 4, source)[:, :51].max() <= 1.0  # blendshapes stay in [0, 1]
    with pytest.raises(ValueError, match="anchor"):
        retarget_codes(driving, source, anchor=9)


def test_mesh_driver_locks_the_gaze_after_retargeting():
    """Relative retargeting adds the portrait's own pose and gaze offsets to locked codes: renderer=mesh locks
    again on the portrait's codes, so the drawn eyes look into the camera."""
    from types import SimpleNamespace

    from omnitalker.controls import Controls, apply_controls
    from omnitalker.controls.apply import gaze_camera_error_deg
    from omnitalker.inference.mesh import MeshDriver

    rng = np.random.default_rng(1)
    generated = rng.normal(0.0, 0.05, size=(50, 61)).astype(np.float32)
    generated[:, :51] = np.abs(generated[:, :51])
    locked = apply_controls(generated, Controls(gaze_lock=True))  # what the pipeline hands the renderer
    assert gaze_camera_error_deg(locked) < 0.5
    portrait = SimpleNamespace(source_code=torch.from_numpy(locked[0] + 0.15))  # turned head, eyes off-camera
    driver = MeshDriver(video_size=256)
    plain = driver.driving_codes((portrait, locked[0] - 0.05, False), locked)  # (50, 61)
    assert gaze_camera_error_deg(plain) > 10.0  # retargeting alone loses the lock
    driven = driver.driving_codes((portrait, locked[0] - 0.05, True), locked)
    assert gaze_camera_error_deg(driven) < 0.5
    np.testing.assert_allclose(driven[:, :57], plain[:, :57])  # only the eyes change


def test_a_full_blink_closes_the_lids_and_reads_as_closed(portrait_renderer):
    """eyeBlink 1.0 brings the driven lids together (the face model alone leaves a slit) without folding them, the
    iris vanishes under them, and the face pipeline re-fits the rendered frames as closed eyes."""
    from omnitalker.inference.reference import ReferenceClip, fit_reference_face
    from omnitalker.meshrender.eyes import lid_gaps

    renderer, _ = portrait_renderer
    blink = [BLENDSHAPE_NAMES.index(n) for n in ("eyeBlinkLeft", "eyeBlinkRight")]
    codes = renderer.source_code.repeat(16, 1)
    codes[8:, blink] = 1.0
    gaps = lid_gaps(renderer.driving_points(codes)[:, :478])  # (16, 2)
    assert (gaps[:8] > 3.0).all() and (gaps[8:] < 0.1 * gaps[:8]).all()  # lids together (distance incl. x offset)
    frames = renderer.render(codes)
    clip = ReferenceClip(np.zeros(0, np.float32), frames, 25.0, 24000, "blink", 0.64, False)
    refit = fit_reference_face(clip).codes[:, [BLINK_L, BLINK_R]]  # (16, 2); the fit smooths over ~3 frames
    assert refit[:5].max() < 0.1 and refit[11:].min() > 0.45  # closed: above the blink counter's 0.5 at the peak
    assert refit[11:].max() > 0.5
