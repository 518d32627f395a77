"""FaceModel: shape math, pose conventions, save/load round trip, the packaged asset."""

from __future__ import annotations

import math

import pytest
import torch

from omnitalker.constants import CODE_DIM, POSE_SLICE
from omnitalker.face.errors import FaceModelFormatError, FaceModelNotFoundError
from omnitalker.face.face_model import (
    DEFAULT_MODEL_PATH,
    KEYPOINT_GROUPS,
    OUTER_EYE_CORNERS,
    FaceModel,
    to_crop_coordinates,
)
from omnitalker.face.pose import euler_to_matrix, matrix_to_euler, nearest_rotation


def random_model(seed: int = 0) -> FaceModel:
    g = torch.Generator().manual_seed(seed)
    return FaceModel(
        torch.randn(478, 3, generator=g),
        0.05 * torch.randn(51, 478, 3, generator=g),
        0.05 * torch.randn(4, 478, 3, generator=g),
    )


def test_zero_code_gives_mean_shape():
    model = random_model()
    codes = torch.zeros(2, 3, CODE_DIM)
    assert torch.allclose(model.posed(codes), model.mean_shape.expand(2, 3, 478, 3))
    assert model.keypoints(codes).shape == (2, 3, model.num_keypoints, 3)


def test_shape_is_linear_in_the_bases():
    model = random_model()
    beta = torch.zeros(51)
    beta[24] = 0.5
    gamma = torch.tensor([0.0, 0.2, 0.0, 0.0])
    expected = model.mean_shape + 0.5 * model.exp_basis[24] + 0.2 * model.eye_basis[1]
    assert torch.allclose(model.shape(beta, gamma), expected, atol=1e-6)


def test_rotation_orthonormal_and_euler_round_trip():
    angles = (torch.rand(64, 3) - 0.5) * 2.0  # |angle| < 1 rad
    rot = euler_to_matrix(*angles.unbind(-1))
    eye = torch.eye(3).expand_as(rot)
    assert torch.allclose(rot @ rot.transpose(-1, -2), eye, atol=1e-5)
    assert torch.allclose(torch.det(rot), torch.ones(64), atol=1e-5)
    assert torch.allclose(matrix_to_euler(rot), angles, atol=1e-5)
    noisy = rot + 0.01 * torch.randn_like(rot)
    fixed = nearest_rotation(noisy)
    assert torch.allclose(fixed @ fixed.transpose(-1, -2), eye, atol=1e-5)


def test_pose_sign_conventions():
    # nose pointing at the camera is -z; positive yaw turns it to the image left, positive pitch down
    nose = torch.tensor([0.0, 0.0, -1.0])
    yaw = euler_to_matrix(torch.tensor(0.3), torch.tensor(0.0), torch.tensor(0.0)) @ nose
    pitch = euler_to_matrix(torch.tensor(0.0), torch.tensor(0.3), torch.tensor(0.0)) @ nose
    assert yaw[0] < -0.25 and abs(float(yaw[1])) < 1e-6
    assert pitch[1] > 0.25 and abs(float(pitch[0])) < 1e-6


def test_pose_applies_scale_rotation_translation():
    model = random_model()
    codes = torch.zeros(CODE_DIM)
    codes[POSE_SLICE] = torch.tensor([0.1, -0.2, 0.3, 0.5, -0.25, math.log(1.5)])
    rot = euler_to_matrix(torch.tensor(0.1), torch.tensor(-0.2), torch.tensor(0.3))
    expected = 1.5 * model.mean_shape @ rot.T + torch.tensor([0.5, -0.25, 0.0])
    assert torch.allclose(model.posed(codes), expected, atol=1e-5)
    kp = model.keypoints(codes)
    assert torch.allclose(kp, model.posed(codes)[model.keypoint_indices], atol=1e-5)
    assert to_crop_coordinates(kp).abs().max() < kp.abs().max()


def test_save_load_round_trip(tmp_path):
    model = random_model(3)
    path = tmp_path / "fm.safetensors"
    model.save(path)
    loaded = FaceModel.load(path)
    for name in ("mean_shape", "exp_basis", "eye_basis", "keypoint_indices"):
        assert torch.equal(getattr(model, name), getattr(loaded, name))
    assert loaded.keypoint_groups == KEYPOINT_GROUPS
    codes = torch.rand(5, CODE_DIM)
    assert torch.allclose(model.posed(codes), loaded.posed(codes))
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temp file


def test_load_errors(tmp_path):
    with pytest.raises(FaceModelNotFoundError, match="build it with"):
        FaceModel.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(FaceModelFormatError, match="bad.safetensors"):
        FaceModel.load(bad)
    with pytest.raises(FaceModelFormatError, match="exp_basis"):
        FaceModel(torch.zeros(478, 3), torch.zeros(50, 478, 3), torch.zeros(4, 478, 3))
    with pytest.raises(ValueError, match="61"):
        random_model().posed(torch.zeros(3, 60))


def test_packaged_model_is_plausible():
    assert DEFAULT_MODEL_PATH.stat().st_size < 1_000_000
    model = FaceModel.default()
    mean = model.mean_shape
    left, right = OUTER_EYE_CORNERS[1], OUTER_EYE_CORNERS[0]
    assert abs(float((mean[left] - mean[right]).norm()) - 1.0) < 0.02  # face unit = inter-ocular distance
    assert mean[left, 0] > mean[right, 0]  # subject's left eye on the image right
    assert mean[152, 1] > mean[1, 1] > mean[10, 1]  # forehead above nose above chin (y down)
    assert mean[1, 2] < mean[234, 2]  # nose tip closer to the camera than the cheek contour
    jaw = model.exp_basis[24]  # jawOpen moves the lower lip / chin down
    assert jaw[17, 1] > 0.1 and jaw[152, 1] > 0.1 and jaw[0, 1].abs() < jaw[17, 1]
    gaze_left_yaw = model.eye_basis[0]  # subject's left iris (473) moves to the image left for positive yaw
    assert gaze_left_yaw[473, 0] < -0.05 and gaze_left_yaw[468].abs().max() == 0
