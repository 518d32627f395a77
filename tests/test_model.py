"""The dual-branch MM-DiT: size, shapes, padding invariance, stream fusion, condition dropout, input validation."""

from __future__ import annotations

import pytest
import torch
from conftest import make_tiny_model, random_batch, tiny_config

from omnitalker.models.config import FUSION_KINDS, DiTConfig
from omnitalker.models.dit import OmniTalkerDiT, parameter_breakdown


def run(model, mel, codes, text, mask=None, **kw):
    return model(mel, 0.5 * mel.flip(-1), codes, 0.5 * codes.flip(-1), torch.full((mel.shape[0],), 0.3), text, mask=mask, **kw)


def test_paper_configuration_has_0p8b_parameters():
    with torch.device("meta"):
        model = OmniTalkerDiT(DiTConfig())
    counts = parameter_breakdown(model)
    print(f"paper configuration: {counts['total']:,} parameters")
    assert 0.76e9 <= counts["total"] <= 0.84e9
    assert len(model.fusion_blocks) == 22 and len(model.audio_blocks) == 4 and len(model.visual_blocks) == 4
    assert counts["fusion_blocks"] > 0.8 * counts["total"]


@pytest.mark.parametrize("fusion", FUSION_KINDS)
def test_forward_shapes_every_fusion(fusion):
    model = make_tiny_model(fusion=fusion)
    mel, codes, text, _ = random_batch(b=2, n=30)
    va, vv = run(model, mel, codes, text)
    assert va.shape == (2, 30, 100) and vv.shape == (2, 30, 61)
    assert torch.isfinite(va).all() and torch.isfinite(vv).all()


def test_untrained_model_predicts_zero_velocity():
    torch.manual_seed(0)
    model = OmniTalkerDiT(tiny_config()).eval()
    mel, codes, text, _ = random_batch(b=2, n=20)
    va, vv = run(model, mel, codes, text)
    assert va.abs().max() == 0 and vv.abs().max() == 0


@pytest.mark.parametrize("fusion", FUSION_KINDS)
def test_padding_never_changes_valid_frames(fusion):
    model = make_tiny_model(fusion=fusion)
    mel, codes, text, _ = random_batch(b=2, n=36, seed=1)
    short = 23
    mask = torch.ones(2, 36, dtype=torch.bool)
    mask[0, short:] = False
    garbage = torch.randn(36 - short, 100) * 50
    mel_padded = mel.clone()
    mel_padded[0, short:] = garbage  # whatever sits in padding must not matter
    va, vv = run(model, mel_padded, codes, text, mask=mask)
    va_alone, vv_alone = run(model, mel[:1, :short], codes[:1, :short], text[:1], mask=None)
    torch.testing.assert_close(va[0, :short], va_alone[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(vv[0, :short], vv_alone[0], atol=1e-5, rtol=1e-4)
    # the unpadded sample of the same batch is unaffected by its neighbour's padding too
    va_1, _ = run(model, mel[1:], codes[1:], text[1:])
    torch.testing.assert_close(va[1], va_1[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("fusion", ["mm_attention", "cross_attention", "add", "linear"])
def test_fusion_mixes_streams(fusion):
    model = make_tiny_model(fusion=fusion)
    mel, codes, text, _ = random_batch(b=1, n=24, seed=2)
    va, _ = run(model, mel, codes, text)
    va2, _ = run(model, mel, codes + torch.randn_like(codes), text)
    assert (va - va2).abs().max() > 1e-5, f"{fusion}: visual input did not reach the audio output"


def test_no_fusion_control_keeps_streams_apart():
    model = make_tiny_model(fusion="none")
    mel, codes, text, _ = random_batch(b=1, n=24, seed=2)
    va, vv = run(model, mel, codes, text)
    va2, vv2 = run(model, mel, codes + torch.randn_like(codes), text)
    torch.testing.assert_close(va, va2)
    assert (vv - vv2).abs().max() > 1e-3


def positional_attention_model(fusion: str) -> OmniTalkerDiT:
    """A one-fusion-block model whose every query and key is the same constant vector, so attention scores depend only
    on the RoPE positions: q_i . k_j = sum_f |u_f|^2 cos(theta_f (p_j - p_i)), maximal (by > 25 logits) exactly where
    the positions are equal. The convolutional position embeddings are switched off, so a change of one input frame
    reaches only that frame before attention. Token j of one stream then influences token i of the other stream only
    where their RoPE positions coincide."""
    from omnitalker.models.attention import QKV

    model = make_tiny_model(fusion=fusion, fusion_depth=1, audio_depth=0, visual_depth=0)
    with torch.no_grad():
        for stream_in in (model.audio_in, model.visual_in):
            stream_in.conv_pos.conv2.weight.zero_()  # mish(0) = 0: no cross-frame mixing before attention
            stream_in.conv_pos.conv2.bias.zero_()
        for qkv in (m for m in model.fusion_blocks.modules() if isinstance(m, QKV)):
            for proj in (qkv.to_q, qkv.to_k):
                proj.weight.zero_()
                proj.bias.fill_(10.0)
    return model


@pytest.mark.parametrize("fusion", ["mm_attention", "cross_attention"])
def test_mm_attention_is_time_aligned_across_streams(fusion):
    """Frame i of audio and frame i of video share RoPE position i: with attention that only sees positions, changing
    visual frame j changes the audio output at frame j and nowhere else (and vice versa). An offset between the
    streams' positions would move the response to another frame."""
    model = positional_attention_model(fusion)
    mel, codes, text, _ = random_batch(b=1, n=24, seed=3)
    va, vv = run(model, mel, codes, text)
    for j in (0, 9, 23):
        codes_j, mel_j = codes.clone(), mel.clone()
        codes_j[0, j] += 3.0 * torch.randn(codes.shape[-1])
        mel_j[0, j] += 3.0 * torch.randn(mel.shape[-1])
        audio_change = (run(model, mel, codes_j, text)[0] - va).abs().amax(-1)[0]  # (n,)
        visual_change = (run(model, mel_j, codes, text)[1] - vv).abs().amax(-1)[0]  # (n,)
        for change in (audio_change, visual_change):
            assert change[j] > 1e-3, f"{fusion}: frame {j} of one stream did not reach frame {j} of the other"
            others = torch.cat([change[:j], change[j + 1 :]])
            assert others.max() < 1e-4 * change[j], f"{fusion}: frame {j} reached frames {others.nonzero().flatten()}"


def test_dropped_condition_is_its_null_form_per_sample():
    model = make_tiny_model()
    mel, codes, text, _ = random_batch(b=3, n=20, seed=4)
    ctx_a, ctx_v, t = mel.roll(1, 1), codes.roll(1, 1), torch.full((3,), 0.5)
    drop_audio = torch.tensor([True, False, False])
    drop_visual = torch.tensor([False, True, False])
    drop_text = torch.tensor([False, False, True])
    va, vv = model(mel, ctx_a, codes, ctx_v, t, text, drop_text=drop_text, drop_audio=drop_audio, drop_visual=drop_visual)
    # explicit null forms: zero context, all-filler text (ids of -1 shift to the filler token 0)
    ctx_a_null, ctx_v_null, text_null = ctx_a.clone(), ctx_v.clone(), text.clone()
    ctx_a_null[0] = 0
    ctx_v_null[1] = 0
    text_null[2] = -1
    va_ref, vv_ref = model(mel, ctx_a_null, codes, ctx_v_null, t, text_null)
    torch.testing.assert_close(va, va_ref)
    torch.testing.assert_close(vv, vv_ref)
    va_plain, _ = model(mel, ctx_a, codes, ctx_v, t, text)
    for i in range(3):  # each sample's own drop changed its own output
        assert (va_plain[i] - va[i]).abs().max() > 1e-4


def test_precomputed_text_embedding_matches_ids():
    model = make_tiny_model()
    mel, codes, text, _ = random_batch(b=2, n=20)
    emb = model.encode_text(text, 20)
    a = run(model, mel, codes, text)
    b = model(mel, 0.5 * mel.flip(-1), codes, 0.5 * codes.flip(-1), torch.full((2,), 0.3), text_emb=emb)
    torch.testing.assert_close(a[0], b[0])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: {**a, "noisy_audio": a["noisy_audio"][..., :80]}, "noisy_audio"),
        (lambda a: {**a, "context_visual": a["context_visual"][:, :-1]}, "context_visual"),
        (lambda a: {**a, "noisy_visual": a["noisy_visual"][0]}, "noisy_visual"),
        (lambda a: {**a, "noisy_audio": a["noisy_audio"][0]}, "noisy_audio"),
        (lambda a: {**a, "text": a["text"] + 1000}, "vocabulary"),
        (lambda a: {**a, "text": a["text"][0]}, "text ids"),
        (lambda a: {**a, "mask": torch.ones(2, 20)}, "bool"),
        (lambda a: {**a, "mask": torch.zeros(2, 20, dtype=torch.bool)}, "valid frame"),
    ],
)
def test_bad_inputs_raise_clear_errors(mutate, message):
    model = make_tiny_model()
    mel, codes, text, _ = random_batch(b=2, n=20)
    args = dict(noisy_audio=mel, context_audio=mel, noisy_visual=codes, context_visual=codes, time=0.5, text=text)
    with pytest.raises(ValueError, match=message):
        model(**mutate(args))


def test_bad_config_raises():
    with pytest.raises(ValueError, match="fusion"):
        DiTConfig(fusion="concat")
    with pytest.raises(ValueError, match="unknown DiTConfig keys"):
        DiTConfig.from_dict({"dimension": 3})
