"""Identity and voice from separate sources (issue 13 §2) and renderer=mesh in inference (§3): a portrait image for
the face, an audio clip for the voice, an optional motion clip; clear errors for bad images and voices; small end to
end runs through the pipeline and scripts/infer.py with the smoke models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED
from hydra import compose, initialize_config_dir
from PIL import Image

from omnitalker.constants import BLENDSHAPE_NAMES, MEL_FPS, SAMPLE_RATE
from omnitalker.controls import Controls
from omnitalker.eval.motion import motion_stats
from omnitalker.inference.errors import (
    IdentityImageError,
    InferenceInputError,
    MediaNotFoundError,
    ReferenceTooShortError,
    SilentAudioError,
)
from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig
from omnitalker.inference.sources import (
    fit_identity_image,
    load_identity_image,
    load_voice,
    motion_codes,
    neutral_codes,
)

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = SHARED / "media/faces/aniportrait_Aragaki.png"  # one woman, 590x590
TWO_PEOPLE = SHARED / "media/hard/facerec_two_people.jpg"
VOICE = SHARED / "media/speech/f5tts_basic_ref_en.wav"  # 5.3 s, English
VOICE_TEXT = "Some call me nature, others call me mother nature."
MOTION = SHARED / "media/video/dreamtalk_W009_front_neutral_level1_001.mp4"  # 4 s, 256x256, no audio
JAW = BLENDSHAPE_NAMES.index("jawOpen")


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return load_identity_image(PORTRAIT)


@pytest.fixture(scope="module")
def motion_clip(tmp_path_factory) -> Path:
    """The first second of a real silent talking clip (the face fit costs time per frame on a shared CPU)."""
    from omnitalker.inference.media import iter_video_frames
    from omnitalker.inference.mux import write_video

    out = tmp_path_factory.mktemp("motion") / "motion_1s.mp4"
    write_video(out, np.stack(list(iter_video_frames(MOTION, max_frames=25))), None, fps=25)
    return out


def test_a_portrait_is_fitted_and_cropped(portrait):
    identity = fit_identity_image(portrait, crop="auto")
    assert identity.code.shape == (61,) and np.isfinite(identity.code).all()
    assert identity.crop.shape[0] == identity.crop.shape[1] and identity.crop.shape[0] > 100
    assert abs(float(identity.code[51])) < 0.35  # a roughly frontal portrait
    with pytest.raises(InferenceInputError, match="crop must be"):
        fit_identity_image(portrait, crop="tight")


def test_no_face(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with pytest.raises(IdentityImageError, match="no face found"):
        fit_identity_image(noise)


def test_several_faces():
    with pytest.raises(IdentityImageError, match="several faces"):
        fit_identity_image(load_identity_image(TWO_PEOPLE))


def test_tiny_face(portrait):
    canvas = np.full((480, 480, 3), 200, np.uint8)
    canvas[200:240, 200:240] = np.asarray(Image.fromarray(portrait).resize((40, 40)))  # a ~25 px face
    with pytest.raises(IdentityImageError, match="px"):
        fit_identity_image(canvas)


def test_unreadable_and_missing_images(tmp_path):
    bad = tmp_path / "portrait.png"
    bad.write_text("not an image")
    with pytest.raises(IdentityImageError, match="not a readable image"):
        load_identity_image(bad)
    with pytest.raises(MediaNotFoundError, match="does not exist"):
        load_identity_image(tmp_path / "missing.png")
    with pytest.raises(IdentityImageError, match="far too small"):
        load_identity_image(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(IdentityImageError, match="uint8 RGB"):
        load_identity_image(np.zeros((64, 64), np.float32))


def test_large_images_are_downscaled(portrait):
    big = np.asarray(Image.fromarray(portrait).resize((2600, 2600)))
    assert max(load_identity_image(big).shape[:2]) == 1280


def test_voice_checks(tmp_path, portrait):
    silent, short = tmp_path / "silent.wav", tmp_path / "short.wav"
    sf.write(silent, np.zeros(3 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    sf.write(short, 0.1 * np.sin(np.arange(SAMPLE_RATE // 2) / 10).astype(np.float32), SAMPLE_RATE)
    with pytest.raises(SilentAudioError, match="silent"):
        load_voice(silent, portrait)
    with pytest.raises(ReferenceTooShortError, match="at least 1 s"):
        load_voice(short, portrait)
    with pytest.raises(MediaNotFoundError):
        load_voice(tmp_path / "none.wav", portrait)
    clip = load_voice(VOICE, portrait)
    assert clip.num_frames == 1 and clip.duration == pytest.approx(len(clip.audio) / SAMPLE_RATE)
    with pytest.warns(UserWarning, match="cut at a pause"):
        cut = load_voice(VOICE, portrait, max_seconds=3.0)
    assert 1.0 <= len(cut.audio) / SAMPLE_RATE <= 3.0


def test_neutral_default_style_is_still_with_natural_blinks():
    code = np.zeros(61, np.float32)
    code[51] = 0.1
    codes = neutral_codes(code, round(60 * MEL_FPS))
    stats = motion_stats(codes, MEL_FPS)
    assert stats["head_amp_deg"] < 1e-6 and 10 <= stats["blink_per_min"] <= 20
    np.testing.assert_array_equal(np.delete(codes, [8, 9], axis=1), np.delete(np.tile(code, (len(codes), 1)),
                                                                                [8, 9], axis=1))


def test_motion_from_a_silent_third_clip_moves_the_portraits_code(motion_clip):
    code = np.zeros(61, np.float32)
    code[JAW] = 0.05
    codes = motion_codes(motion_clip, code, round(3 * MEL_FPS))  # the clip is 1 s: looped forth and back
    assert codes.shape == (round(3 * MEL_FPS), 61) and np.isfinite(codes).all()
    assert np.ptp(codes[:, JAW]) > 0.05 and motion_stats(codes, MEL_FPS)["head_amp_deg"] > 0.1
    assert np.abs(np.diff(codes, axis=0)).max() < 0.2  # no jump at the loop's turning points


# ---------------------------------------------------------------- end to end with the smoke models


@pytest.fixture(scope="module")
def mesh_pipeline(smoke_models):  # noqa: F811
    dit, _ = smoke_models
    return OmniTalkerPipeline(PipelineConfig(str(dit), "mesh", vocoder="griffin_lim", device="cpu",
                                             sampler={"steps": 2}, video_size=256))


@pytest.fixture(scope="module")
def sources_ref(mesh_pipeline):
    return mesh_pipeline.analyse_sources(PORTRAIT, VOICE, VOICE_TEXT)


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_portrait_and_voice_to_mp4_with_the_mesh_renderer_and_controls(mesh_pipeline, sources_ref, tmp_path):
    ref = sources_ref
    assert ref.text == VOICE_TEXT and ref.codes.shape == (ref.mel.shape[0], 61)
    assert ref.fit_report["motion"] == "neutral default"
    plain = mesh_pipeline.generate("Hello there.", ref, tmp_path / "plain.mp4", duration=1.0,
                                   wav_out=tmp_path / "plain.wav", codes_out=tmp_path / "plain.npz", progress=False)
    mesh_pipeline.generate(
        "Hello there.", ref, tmp_path / "controlled.mp4", duration=1.0, wav_out=tmp_path / "controlled.wav",
        codes_out=tmp_path / "controlled.npz", progress=False,
        controls=Controls(lip=2.0, head=2.0, emotion="happy", gaze_lock=True, blink_rate=30))
    # visual-only controls: the audio is bit-identical; the codes are not
    assert np.array_equal(sf.read(tmp_path / "plain.wav")[0], sf.read(tmp_path / "controlled.wav")[0])
    smile = [BLENDSHAPE_NAMES.index("mouthSmileLeft"), BLENDSHAPE_NAMES.index("mouthSmileRight")]
    plain_codes = np.load(tmp_path / "plain.npz")["codes"]
    controlled_codes = np.load(tmp_path / "controlled.npz")["codes"]
    assert controlled_codes[:, smile].mean() > plain_codes[:, smile].mean() + 0.3
    frames = _frames(tmp_path / "controlled.mp4")
    assert frames.shape[1:] == (256, 256, 3) and len(frames) == round(plain.duration_s * 25)
    assert frames.std() > 10  # the portrait, not a blank frame
    # the mesh renderer reproduces the portrait's crop where the codes equal its own code (first frames differ
    # only by the generated motion): the rendered face stays that of the identity image
    crop = np.asarray(Image.fromarray(ref.identity_image).resize((256, 256)), np.float32)
    assert np.abs(frames[0].astype(np.float32) - crop).mean() < 40


def test_rate_shortens_the_speech(mesh_pipeline, sources_ref, tmp_path):
    """controls.rate through generate(): the same text makes a video (and wav) 1/rate as long."""
    text = "Hello there, how are you today?"
    lengths = {}
    for rate in (1.0, 2.0):
        result = mesh_pipeline.generate(text, sources_ref, tmp_path / f"rate{rate}.mp4", progress=False,
                                        wav_out=tmp_path / f"rate{rate}.wav", controls=Controls(rate=rate))
        lengths[rate] = (result.duration_s, len(sf.read(tmp_path / f"rate{rate}.wav")[0]) / SAMPLE_RATE)
    assert lengths[2.0][0] == pytest.approx(lengths[1.0][0] / 2, abs=0.1)  # video seconds
    assert lengths[2.0][1] == pytest.approx(lengths[1.0][1] / 2, abs=0.1)  # audio seconds


def test_infer_script_image_voice_motion_mesh(smoke_models, motion_clip, tmp_path, capsys):  # noqa: F811
    dit, _ = smoke_models
    spec = importlib.util.spec_from_file_location("omnitalker_infer_script_sources", ROOT / "scripts/infer.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "sources.mp4"
    overrides = [f"dit={dit}", "renderer=mesh", f"image={PORTRAIT}", f"voice={VOICE}", f"voice_text='{VOICE_TEXT}'",
                 f"motion={motion_clip}", f"out={out}", "text='Hi.'", "duration=0.6", "vocoder=griffin_lim",
                 "device=cpu", "steps=2", "controls.lip=1.5", "controls.emotion=happy"]
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("infer", overrides=overrides)
        bad = compose("infer", overrides=overrides[:-1] + ["controls.emotion=bored"])
        both = compose("infer", overrides=overrides + [f"ref={VOICE}"])
    assert script.run(cfg) == 0 and "wrote" in capsys.readouterr().out
    assert len(_frames(out)) == 15
    with pytest.raises(InferenceInputError, match="emotion='bored' is unknown"):
        script.run(bad)
    with pytest.raises(ValueError, match="neither ref= nor batch="):
        script.run(both)
