"""Audio metrics: WER/CER (text normalisation, edit counts, recognisers), SIM-A (resemblyzer, WavLM-ECAPA), DNSMOS."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED

import omnitalker.eval.dnsmos
import omnitalker.eval.speaker
import omnitalker.eval.wer  # noqa: F401  (registers "wer")
from omnitalker.audio.asr import Segment, register_recognizer
from omnitalker.eval.audio_clips import load_audio_clip, split_halves
from omnitalker.eval.metric import Clip, EvalItem, Measurement, MetricError, build_metric, registered
from omnitalker.eval.textnorm import edit_counts, normalize, spell_integer

SPEECH = Path(os.environ.get("OMNITALKER_MEDIA", SHARED / "media")) / "speech"  # env: run from a worktree
JFK = SPEECH / "whisper_jfk.flac"
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
needs_media = pytest.mark.skipif(not JFK.is_file(), reason="shared media not available")


def _item(generated: Clip, reference: Clip | None = None, language: str = "en", target: Clip | None = None):
    return EvalItem("item", language, generated, reference if reference is not None else generated, target)


# ---- text normalisation and edit counts ---------------------------------------------------------------------------
def test_normalize_follows_seed_tts_rules():
    assert normalize("Hello, World!  It's  “fine”.", "en") == ["hello", "world", "it's", "fine"]
    assert normalize("It’s fine.", "en", mode="f5tts") == ["its", "fine"]  # F5-TTS also drops the apostrophe
    assert normalize("对，这就是我，万人敬仰的太乙真人。", "zh") == list("对这就是我万人敬仰的太乙真人")
    assert normalize("Ｈｅｌｌｏ　ｗｏｒｌｄ", "en") == ["hello", "world"]  # full-width forms folded
    with pytest.raises(ValueError, match="unknown text normalisation"):
        normalize("x", "en", mode="nope")


def test_spelled_numbers():
    assert spell_integer(0) == "zero"
    assert spell_integer(21) == "twenty one"
    assert spell_integer(1961) == "one thousand nine hundred sixty one"
    assert spell_integer(2_000_005) == "two million five"
    assert normalize("I have 3 cats and 1,200 dogs", "en", spell_numbers=True) == (
        ["i", "have", "three", "cats", "and", "one", "thousand", "two", "hundred", "dogs"]
    )
    assert normalize("I have 3 cats", "en") == ["i", "have", "3", "cats"]  # off by default, like the field


@pytest.mark.parametrize(
    "ref, hyp, expected",
    [
        ("a b c d", "a b c d", (0, 0, 0)),
        ("a b c d", "a x c d e", (1, 0, 1)),
        ("a b c d", "a c d", (0, 1, 0)),
        ("a b c", "", (0, 3, 0)),
        ("", "a b", (0, 0, 2)),
        ("the cat sat on the mat", "cat sat on a mat today", (1, 1, 1)),
        ("a b", "b a", (2, 0, 0)),  # ties resolve to substitutions (jiwer's choice)
    ],
)
def test_edit_counts_known_answers(ref, hyp, expected):
    counts = edit_counts(ref.split(), hyp.split())
    assert (counts.substitutions, counts.deletions, counts.insertions) == expected
    assert counts.reference_length == len(ref.split())


def _levenshtein(a: list[int], b: list[int]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_edit_counts_match_plain_levenshtein_on_random_sequences():
    rng = np.random.default_rng(0)
    for _ in range(200):
        ref = [str(v) for v in rng.integers(0, 4, rng.integers(0, 12))]
        hyp = [str(v) for v in rng.integers(0, 4, rng.integers(0, 12))]
        counts = edit_counts(ref, hyp)
        assert counts.errors == _levenshtein(ref, hyp)
        assert len(ref) - counts.deletions + counts.insertions == len(hyp)


# ---- WER metric ---------------------------------------------------------------------------------------------------
class FakeChinese:
    """A stand-in recogniser registered under a name, as a Paraformer wrapper would be."""

    def __init__(self, model_path: str | None = None):
        self.model_path = model_path

    def transcribe(self, audio_16k, language):
        return [Segment(0.0, 1.0, "对，这就是你，万人敬仰的太乙真人！")]


@pytest.fixture(scope="module")
def wer_metric():
    return build_metric("wer")


def test_wer_aggregate_is_mean_per_item_and_corpus_level(wer_metric):
    def m(errors: int, ref: int) -> Measurement:
        return Measurement(
            {
                "wer": errors / ref,
                "wer_substitutions": float(errors),
                "wer_deletions": 0.0,
                "wer_insertions": 0.0,
                "wer_reference_units": float(ref),
            }
        )

    out = wer_metric.aggregate([m(1, 2), m(0, 8)])
    assert out["wer"] == pytest.approx(0.25)  # mean of 0.5 and 0.0
    assert out["wer_corpus"] == pytest.approx(0.1)  # 1 error / 10 words
    assert out["wer_sub"] == pytest.approx(0.1) and out["wer_items"] == 2.0
    assert "cer" not in out


@needs_media
def test_wer_on_real_english_speech(wer_metric):
    clip = load_audio_clip(JFK, text=JFK_TEXT)
    measured = wer_metric.measure(_item(clip))
    assert measured.scalars["wer"] < 0.1
    assert measured.scalars["wer_reference_units"] == 22
    wrong = Clip(audio=clip.audio, sample_rate=clip.sample_rate, text="the quick brown fox jumps over the lazy dog")
    assert wer_metric.measure(_item(wrong)).scalars["wer"] > 0.8
    # the target transcript is used when the generated clip carries no text
    untitled = Clip(audio=clip.audio, sample_rate=clip.sample_rate)
    assert wer_metric.measure(_item(untitled, target=Clip(text=JFK_TEXT))).scalars["wer"] < 0.1
    assert "tiny.en" in wer_metric.info["recognizer"]


def test_wer_errors_are_clear(wer_metric, tmp_path):
    audio = Clip(audio=np.zeros(16000, np.float32), sample_rate=16000, text="你好")
    with pytest.raises(MetricError, match="register_recognizer"):
        wer_metric.measure(_item(audio, language="zh"))
    with pytest.raises(MetricError, match="no text"):
        wer_metric.measure(_item(Clip(audio=audio.audio, sample_rate=16000)))
    with pytest.raises(MetricError, match="generated clip has no audio"):
        wer_metric.measure(_item(Clip(text="hello")))
    with pytest.raises(MetricError, match=r"model\.bin"):
        build_metric("wer", model_path=str(tmp_path / "large-v3"))


def test_cer_through_a_registered_chinese_recogniser():
    register_recognizer("fake_zh_for_test", FakeChinese)
    metric = build_metric("wer", zh_recognizer="fake_zh_for_test", zh_model_path="/models/paraformer")
    clip = Clip(audio=np.zeros(16000, np.float32), sample_rate=16000, text="对，这就是我，万人敬仰的太乙真人。")
    measured = metric.measure(_item(clip, language="zh"))
    assert measured.scalars["cer_substitutions"] == 1 and measured.scalars["cer_reference_units"] == 14
    assert measured.scalars["cer"] == pytest.approx(1 / 14)
    assert "fake_zh_for_test (/models/paraformer)" == metric.info["zh_recognizer"]
    assert metric.aggregate([measured])["cer_corpus"] == pytest.approx(1 / 14)


# ---- SIM-A --------------------------------------------------------------------------------------------------------
@needs_media
def test_sim_a_resemblyzer_separates_speakers():
    metric = build_metric("sim_a")
    assert "resemblyzer" in metric.info["embedder"]
    reference, target = split_halves(load_audio_clip(JFK))
    same = metric.measure(_item(target, reference, target=reference)).scalars
    assert same["sim_a_target"] == pytest.approx(same["sim_a"])
    others = [load_audio_clip(SPEECH / name) for name in ("f5tts_basic_ref_en.wav", "sadtalker_RD_Radio31_000.wav")]
    different = [metric.measure(_item(other, reference)).scalars["sim_a"] for other in others]
    assert same["sim_a"] > max(different) + 0.1, (same, different)


TINY = {"emb_dim": 16, "channels": 32, "out_channels": 48, "dim": 32, "layers": 2, "heads": 4, "ffn": 64}
TINY.update(conv_channels=16, pos_kernel=8, pos_groups=4)


def test_wavlm_ecapa_public_checkpoint_layout_loads(tmp_path):
    from omnitalker.eval.wavlm_ecapa import WavLMEcapa, local_to_public

    torch.manual_seed(0)
    model = WavLMEcapa(**TINY).eval()
    public = local_to_public(model.state_dict())
    public["feature_extract.model.mask_emb"] = torch.randn(32)  # present in the public file, unused at inference
    public["loss_calculator.projection.weight"] = torch.randn(5, 16)  # training-only head
    assert "feature_extract.model.encoder.layers.1.self_attn.q_proj.weight" in public
    assert "layer2.Res2Conv1dReluBn.convs.6.weight" in public
    path = tmp_path / "wavlm_large_finetune.pth"
    torch.save({"model": public}, path)

    metric = build_metric("sim_a", embedder="wavlm_ecapa", checkpoint=str(path))
    assert "WavLM-large + ECAPA-TDNN" in metric.info["embedder"]
    gen = torch.Generator().manual_seed(1)
    a, b = (torch.randn(16000, generator=gen).numpy() * 0.1 for _ in range(2))
    emb_a = metric.embed(Clip(audio=a, sample_rate=16000), "a")
    with torch.no_grad():
        expected = model(torch.from_numpy(a)[None])[0].numpy()
    np.testing.assert_allclose(emb_a, expected, atol=1e-5)  # the loaded model is the saved one
    measured = metric.measure(_item(Clip(audio=a, sample_rate=16000), Clip(audio=b, sample_rate=16000)))
    assert emb_a.shape == (16,) and -1.0 <= measured.scalars["sim_a"] < 0.9999

    del public["feature_extract.model.encoder.layers.1.fc2.bias"]
    torch.save({"model": public}, path)
    with pytest.raises(MetricError, match="missing"):
        build_metric("sim_a", embedder="wavlm_ecapa", checkpoint=str(path))
    with pytest.raises(MetricError, match="wavlm_large_finetune.pth"):
        build_metric("sim_a", embedder="wavlm_ecapa", checkpoint=str(tmp_path / "absent" / "x.pth"))


def test_wavlm_ecapa_rejects_code_in_checkpoint(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pth"
    torch.save({"model": {"x": torch.zeros(1)}, "extra": Payload()}, path)
    with pytest.raises(MetricError, match="tensors-only"):
        build_metric("sim_a", embedder="wavlm_ecapa", checkpoint=str(path))


def test_wavlm_hidden_states_follow_the_pre_ln_encoder():
    from omnitalker.eval.wavlm_ecapa import WavLMEcapa

    torch.manual_seed(0)
    model = WavLMEcapa(**TINY).eval()
    with torch.no_grad():
        states = model.hidden_states(torch.randn(1, 8000))  # (L+1, B, T, D)
    assert states.shape[0] == TINY["layers"] + 1 == model.feature_weight.shape[0]
    # only the last state goes through the encoder's final LayerNorm (weight 1, bias 0 at init)
    assert states[-1].std(-1, unbiased=False).sub(1).abs().max() < 1e-3
    assert states[0].std(-1, unbiased=False).sub(1).abs().max() > 1e-2


def test_wavlm_large_public_key_layout():
    """The full-size model written in the public layout has the UniSpeech checkpoint's tensor names and shapes
    (711 tensors there = 709 here + mask_emb + the training-only loss head)."""
    from omnitalker.eval.wavlm_ecapa import WavLMEcapa, local_to_public

    with torch.device("meta"):
        public = local_to_public(WavLMEcapa().state_dict())
    assert len(public) == 709
    assert sum(k.startswith("feature_extract.model.") for k in public) == 487
    shapes = {
        "feature_weight": (25,),
        "feature_extract.model.encoder.pos_conv.0.weight_g": (1, 1, 128),
        "feature_extract.model.encoder.layers.0.self_attn.relative_attention_bias.weight": (320, 16),
        "feature_extract.model.encoder.layers.23.self_attn.grep_a": (1, 16, 1, 1),
        "feature_extract.model.encoder.layers.23.self_attn.v_proj.weight": (1024, 1024),
        "feature_extract.model.post_extract_proj.weight": (1024, 512),
        "layer1.conv.weight": (512, 1024, 5),
        "conv.weight": (1536, 1536, 1),
        "linear.weight": (256, 3072),
    }
    for key, shape in shapes.items():
        assert tuple(public[key].shape) == shape, key


# ---- DNSMOS -------------------------------------------------------------------------------------------------------
@needs_media
def test_dnsmos_scores_speech_above_noise():
    metric = build_metric("dnsmos")
    speech = metric.measure(_item(load_audio_clip(JFK))).scalars
    noise = Clip(audio=np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 3).astype(np.float32), sample_rate=16000)
    noisy = metric.measure(_item(noise)).scalars
    assert set(speech) == {"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"}
    assert speech["dnsmos_ovrl"] > noisy["dnsmos_ovrl"] + 1.0
    with pytest.raises(MetricError, match="model file not found"):
        build_metric("dnsmos", model_dir="/nonexistent")


def test_audio_metrics_are_registered():
    assert {"wer", "sim_a", "dnsmos"} <= set(registered())
    with pytest.raises(MetricError, match="unknown embedder"):
        build_metric("sim_a", embedder="nope")
    with pytest.raises(MetricError, match="text_source"):
        build_metric("wer", text_source="nope")


def test_split_halves():
    clip = Clip(audio=np.arange(10, dtype=np.float32), sample_rate=16000, text="x")
    first, second = split_halves(clip)
    assert list(first.audio) == [0, 1, 2, 3, 4] and list(second.audio) == [5, 6, 7, 8, 9]
    assert first.sample_rate == second.sample_rate == 16000
    assert first.text == second.text == ""


def test_wavlm_attention_uses_the_public_tensors_as_unispeech_does():
    """Layer 0's gated relative-position self-attention, computed by hand from public-layout tensors (separate
    q/k/v projections, grep_linear, grep_a), equals the loaded model's: checks the name mapping independently of
    local_to_public."""
    from omnitalker.eval.wavlm_ecapa import WavLMEcapa, local_to_public, public_to_local

    torch.manual_seed(0)
    model = WavLMEcapa(**TINY).eval()
    public = local_to_public(model.state_dict())
    pre = "feature_extract.model.encoder.layers.0.self_attn."
    dim, heads = TINY["dim"], TINY["heads"]
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        public[pre + name + ".weight"] = torch.randn(dim, dim) * 0.2
        public[pre + name + ".bias"] = torch.randn(dim) * 0.2
    public[pre + "grep_linear.weight"] = torch.randn(8, dim // heads)
    public[pre + "grep_linear.bias"] = torch.randn(8)
    public[pre + "grep_a"] = torch.rand(1, heads, 1, 1) + 0.5
    local, unknown = public_to_local(public)
    assert not unknown
    model.load_state_dict(local)
    attention = model.wavlm.encoder.transformer.layers[0].attention

    t, head_dim = 7, dim // heads
    x = torch.randn(1, t, dim)
    with torch.no_grad():
        out, position_bias = attention(x)  # (1, T, D), (1, H, T, T) before gating

        def proj(name, v):
            return v @ public[pre + name + ".weight"].T + public[pre + name + ".bias"]

        def split(v):
            return v.view(1, t, heads, head_dim).transpose(1, 2)  # (1, H, T, hd)

        q, k, v = split(proj("q_proj", x)), split(proj("k_proj", x)), split(proj("v_proj", x))
        gates = torch.sigmoid(
            (split(x) @ public[pre + "grep_linear.weight"].T + public[pre + "grep_linear.bias"])
            .view(1, heads, t, 2, 4)
            .sum(-1)
        )  # (1, H, T, 2)
        gate_a, gate_b = gates[..., :1], gates[..., 1:]
        bias = (gate_a * (gate_b * public[pre + "grep_a"] - 1.0) + 2.0) * position_bias  # (1, H, T, T)
        weights = torch.softmax(q @ k.transpose(-1, -2) / head_dim**0.5 + bias, dim=-1)
        expected = proj("out_proj", (weights @ v).transpose(1, 2).reshape(1, t, dim))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
