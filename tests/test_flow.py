"""Masked-infilling flow matching: masks, loss, condition dropout, ODE solvers, guidance and the sampler."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import make_tiny_model, random_batch, tiny_config

from omnitalker.flow.dropout import sample_condition_drop
from omnitalker.flow.guidance import GuidanceWeights, combine_guidance
from omnitalker.flow.loss import PartWeights, masked_flow_loss
from omnitalker.flow.masking import lengths_to_mask, span_mask
from omnitalker.flow.objective import FlowMatchingObjective, ObjectiveConfig
from omnitalker.flow.ode import integrate
from omnitalker.flow.sampler import FlowSampler, SamplerConfig
from omnitalker.flow.timesteps import sample_time, time_grid
from omnitalker.models.dit import OmniTalkerDiT


# ---------------------------------------------------------------- masks
def test_single_span_mask_fraction_contiguity_and_padding():
    lengths = torch.tensor([100, 57, 8, 1] * 50)
    mask = span_mask(lengths, (0.7, 1.0), 1, max_len=120, generator=torch.Generator().manual_seed(0))
    valid = lengths_to_mask(lengths, 120)
    assert not (mask & ~valid).any(), "padding must never be masked"
    frac = mask.sum(1).float() / lengths
    assert (mask.sum(1) >= 1).all()
    long = lengths >= 50
    assert (frac[long] >= 0.69).all() and (frac[long] <= 1.0).all()
    edges = (mask[:, 1:] != mask[:, :-1]).sum(1) + mask[:, 0].long()  # rising+falling edges incl. a start at 0
    assert (edges <= 2).all(), "one span = at most one rise and one fall"


def test_multi_span_mask_has_several_spans():
    lengths = torch.full((64,), 400)
    mask = span_mask(lengths, (0.7, 0.8), num_spans=3, generator=torch.Generator().manual_seed(1))
    rises = ((mask[:, 1:].int() - mask[:, :-1].int()) == 1).sum(1) + mask[:, 0].long()
    assert (rises <= 3).all() and rises.float().mean() > 2.5
    frac = mask.float().mean(1)
    assert (frac > 0.69).all() and (frac < 0.81).all()


def test_bad_mask_arguments():
    with pytest.raises(ValueError, match="fraction"):
        span_mask(torch.tensor([10]), (0.0, 1.2))
    with pytest.raises(ValueError, match="num_spans"):
        span_mask(torch.tensor([10]), num_spans=0)


# ---------------------------------------------------------------- time
def test_time_samplers():
    gen = torch.Generator().manual_seed(0)
    t = sample_time(20000, "logit_normal", generator=gen)
    assert (t > 0).all() and (t < 1).all()
    assert abs(t.median().item() - 0.5) < 0.02 and t.std().item() < 0.25  # concentrated in the middle
    u = sample_time(20000, "uniform", generator=gen)
    assert abs(u.std().item() - 1 / math.sqrt(12)) < 0.01
    with pytest.raises(ValueError, match="time sampler"):
        sample_time(3, "beta")


def test_time_grids():
    g = time_grid(16, "uniform")
    assert g.shape == (17,) and g[0] == 0 and g[-1] == 1
    s = time_grid(16, "sway", -1.0)
    assert s[0] == 0 and abs(s[-1] - 1) < 1e-6 and (s.diff() > 0).all()
    assert s.diff()[0] < g.diff()[0], "negative sway packs steps near the noisy end"
    with pytest.raises(ValueError, match="step"):
        time_grid(0)


# ---------------------------------------------------------------- loss
def test_loss_ignores_unmasked_and_padded_frames():
    gen = torch.Generator().manual_seed(0)
    b, n = 3, 30
    pa, pv, ta, tv = (torch.randn(b, n, d, generator=gen) for d in (100, 61, 100, 61))
    loss_mask = span_mask(torch.tensor([30, 20, 11]), (0.5, 0.6), max_len=n, generator=gen)
    for kind in ("l1", "mse"):
        base, parts, per_sample = masked_flow_loss(pa, pv, ta, tv, loss_mask, kind=kind)
        off = ~loss_mask[..., None]
        noisy = lambda x: torch.where(off, x + 100 * torch.randn_like(x), x)
        again, parts2, per_sample2 = masked_flow_loss(noisy(pa), noisy(pv), noisy(ta), noisy(tv), loss_mask, kind=kind)
        torch.testing.assert_close(base, again)
        torch.testing.assert_close(per_sample, per_sample2)
        nan_pad = torch.where(off, torch.full_like(pa, float("nan")), pa)
        assert torch.isfinite(masked_flow_loss(nan_pad, pv, ta, tv, loss_mask, kind=kind)[0])
        # a masked frame does count
        pa_in = torch.where(loss_mask[..., None], pa + 1.0, pa)
        assert masked_flow_loss(pa_in, pv, ta, tv, loss_mask, kind=kind)[0] != base


def test_loss_part_weights():
    z = lambda d: torch.zeros(1, 4, d)
    mask = torch.ones(1, 4, dtype=torch.bool)
    pv = z(61)
    pv[..., 0:51] = 1.0  # expression error 1
    total, parts, _ = masked_flow_loss(z(100), pv, z(100), z(61), mask, PartWeights(), "l1")
    assert parts["expression"] == 1.0 and parts["pose"] == 0 and parts["eye"] == 0 and parts["mel"] == 0
    assert total == pytest.approx(3.0)
    with pytest.raises(ValueError, match="loss"):
        masked_flow_loss(z(100), pv, z(100), z(61), mask, kind="huber")


def test_loss_normaliser_is_exact_under_bf16_autocast():
    """Masked-frame counts above 256 are not representable in bf16: the per-sample normaliser must stay float32."""
    n = 1100
    loss_mask = torch.zeros(2, n, dtype=torch.bool)
    loss_mask[0, :1001] = True  # 1001 rounds to 1000 in bf16
    loss_mask[1, 50:1077] = True  # 1027 rounds to 1024
    layer_a, layer_v = torch.nn.Linear(8, 100), torch.nn.Linear(8, 61)
    x = torch.randn(2, n, 8, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred_a, pred_v = layer_a(x), layer_v(x)
        assert pred_a.dtype == torch.bfloat16
        # targets differ from the predictions by exactly 1 everywhere: every part's L1 error is exactly 1
        _, parts, per_sample = masked_flow_loss(pred_a, pred_v, pred_a.float() + 1, pred_v.float() + 1,
                                                loss_mask, PartWeights(), "l1")
    assert per_sample.dtype == torch.float32
    expected = sum(PartWeights().__dict__.values())  # each part's error is 1
    torch.testing.assert_close(per_sample, torch.full((2,), expected), atol=2e-5, rtol=0)
    for name, value in parts.items():
        assert abs(value.item() - 1.0) < 2e-6, name


def test_objective_loss_ignores_padding_content():
    model = make_tiny_model()
    mel, codes, text, lengths = random_batch(b=2, n=32, lengths=[32, 20])
    obj = FlowMatchingObjective(ObjectiveConfig(drop_text=0.5, drop_audio=0.5, drop_visual=0.5))
    out = obj(model, mel, codes, text, lengths, generator=torch.Generator().manual_seed(5))
    mel2, codes2 = mel.clone(), codes.clone()
    mel2[1, 20:] = 1e3
    codes2[1, 20:] = -1e3
    out2 = obj(model, mel2, codes2, text, lengths, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(out.loss, out2.loss)
    assert set(out.parts) == {"mel", "expression", "pose", "eye"}
    assert out.per_sample.shape == (2,) and out.time.shape == (2,)


# ---------------------------------------------------------------- condition dropout
def test_condition_dropout_is_independent_per_sample_and_condition():
    drop = sample_condition_drop(40000, 0.2, 0.2, 0.2, generator=torch.Generator().manual_seed(0))
    rates = [d.float().mean().item() for d in (drop.text, drop.audio, drop.visual)]
    assert all(abs(r - 0.2) < 0.01 for r in rates)
    both = (drop.text & drop.audio).float().mean().item()
    assert abs(both - 0.04) < 0.006, "text and audio must be dropped independently"
    all3 = (drop.text & drop.audio & drop.visual).float().mean().item()
    assert abs(all3 - 0.008) < 0.003
    none = sample_condition_drop(100, 0.0, 0.0, 0.0)
    assert not (none.text | none.audio | none.visual).any()
    every = sample_condition_drop(100, 1.0, 1.0, 1.0)
    assert (every.text & every.audio & every.visual).all()


def test_joint_condition_drop_rates():
    """p_all drops all three conditions together; the rates follow p_all + (1 - p_all) * (independent rate)."""
    n = 200000
    drop = sample_condition_drop(n, 0.2, 0.2, 0.2, generator=torch.Generator().manual_seed(3), p_all=0.1)
    all3 = (drop.text & drop.audio & drop.visual).float().mean().item()
    expected_all = 0.1 + 0.9 * 0.008
    assert abs(all3 - expected_all) < 4 * math.sqrt(expected_all * (1 - expected_all) / n)
    for d in (drop.text, drop.audio, drop.visual):
        rate = d.float().mean().item()
        assert abs(rate - (0.1 + 0.9 * 0.2)) < 4 * math.sqrt(0.28 * 0.72 / n)
    # outside the joint drop the conditions stay independent: exactly-text-only drops = 0.9 * 0.2 * 0.8 * 0.8
    text_only = (drop.text & ~drop.audio & ~drop.visual).float().mean().item()
    assert abs(text_only - 0.9 * 0.128) < 4 * math.sqrt(0.1152 * 0.8848 / n)
    # the same draws with p_all = 0 reproduce the independent recipe (v(null) on 0.8 % of samples)
    plain = sample_condition_drop(n, 0.2, 0.2, 0.2, generator=torch.Generator().manual_seed(3))
    assert abs((plain.text & plain.audio & plain.visual).float().mean().item() - 0.008) < 0.0015
    with pytest.raises(ValueError, match="all"):
        sample_condition_drop(4, 0.2, 0.2, 0.2, p_all=1.5)


def test_objective_passes_null_forms_to_the_network():
    """With p = 1 for audio, the objective's loss equals that of a batch whose reference audio is all zeros."""
    model = make_tiny_model()
    mel, codes, text, lengths = random_batch(b=2, n=24)
    obj = FlowMatchingObjective(ObjectiveConfig(drop_text=0.0, drop_audio=1.0, drop_visual=0.0, mask_frac=(0.7, 0.7)))
    captured = {}

    def hook(module, args, kwargs):
        captured["context_audio"] = args[1].clone()
        captured["drop_audio"] = kwargs["drop_audio"].clone()

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    obj(model, mel, codes, text, lengths, generator=torch.Generator().manual_seed(0))
    handle.remove()
    assert captured["drop_audio"].all()
    # the context handed over is the visible ground truth; the model turns it into zeros because of the drop flag
    assert captured["context_audio"].abs().sum() > 0


# ---------------------------------------------------------------- ODE
def test_euler_integrates_ot_path_to_its_endpoint():
    gen = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(4, 10, generator=gen), torch.randn(4, 10, generator=gen)

    def velocity(state, t):  # the OT conditional field towards x1
        (x,) = state
        return ((x1 - x) / (1 - t),)

    for grid in (time_grid(16, "uniform"), time_grid(7, "sway", -1.0)):
        (out,) = integrate(velocity, (x0,), grid, "euler")
        torch.testing.assert_close(out, x1, atol=1e-5, rtol=1e-5)


def test_midpoint_is_second_order():
    x0 = torch.ones(3)

    def decay(state, t):
        return (-state[0],)

    exact = math.exp(-1.0)
    err = {}
    for method in ("euler", "midpoint"):
        err[method] = [abs(integrate(decay, (x0,), time_grid(n, "uniform"), method)[0][0].item() - exact) for n in (8, 16)]
    assert err["midpoint"][1] < err["euler"][1] / 10
    assert err["euler"][0] / err["euler"][1] == pytest.approx(2, rel=0.15)  # first order
    assert err["midpoint"][0] / err["midpoint"][1] == pytest.approx(4, rel=0.15)  # second order
    with pytest.raises(ValueError, match="ODE method"):
        integrate(decay, (x0,), time_grid(4), "rk4")


# ---------------------------------------------------------------- guidance and sampler
def test_combine_guidance_formula():
    v = [torch.full((2,), float(x)) for x in (1, 2, 4, 8)]
    torch.testing.assert_close(combine_guidance(*v, GuidanceWeights(1, 1, 1)), v[3])
    w = GuidanceWeights(2.0, 2.0, 2.5)
    torch.testing.assert_close(combine_guidance(*v, w), torch.full((2,), 1 + 2 * 1 + 2 * 2 + 2.5 * 4))


def sampler_inputs(model: OmniTalkerDiT, b=2, n=30, ref=10):
    mel, codes, text, _ = random_batch(b=b, n=n, seed=9)
    return mel, codes, torch.full((b,), ref), torch.full((b,), n), text


def test_cfg_with_unit_weights_equals_fully_conditioned_prediction():
    model = make_tiny_model()
    mel, codes, ref_len, total, text = sampler_inputs(model)
    sampler = FlowSampler(model, SamplerConfig(guidance=GuidanceWeights(1.0, 1.0, 1.0)))
    ctx_a, ctx_v = mel.clone(), codes.clone()
    ctx_a[:, 10:] = 0
    ctx_v[:, 10:] = 0
    state = (torch.randn_like(mel), torch.randn_like(codes))
    t = torch.tensor(0.4)
    emb = model.encode_text(text, 30)
    with torch.no_grad():
        guided = sampler.guided_velocity(state, t, sampler.prepare_branches(ctx_a, ctx_v, emb, None))
        direct = model(state[0], ctx_a, state[1], ctx_v, t, text_emb=emb)
    torch.testing.assert_close(guided[0], direct[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(guided[1], direct[1], atol=1e-5, rtol=1e-4)
    # and real weights give something else
    strong = FlowSampler(model, SamplerConfig())
    with torch.no_grad():
        other = strong.guided_velocity(state, t, strong.prepare_branches(ctx_a, ctx_v, emb, None))
    assert (other[0] - direct[0]).abs().max() > 1e-4


@pytest.mark.parametrize("cfg_mode", ["full", "two_pass", "none"])
@pytest.mark.parametrize("method", ["euler", "midpoint"])
def test_sampler_preserves_reference_and_is_batch_independent(cfg_mode, method):
    model = make_tiny_model()
    mel, codes, _, _, text = sampler_inputs(model, b=2, n=30)
    ref_len, total = torch.tensor([10, 6]), torch.tensor([30, 21])
    sampler = FlowSampler(model, SamplerConfig(steps=4, method=method, cfg_mode=cfg_mode))
    audio, visual = sampler.sample(mel, codes, ref_len, total, text, seeds=[3, 4])
    assert audio.shape == (2, 30, 100) and visual.shape == (2, 30, 61)
    torch.testing.assert_close(audio[0, :10], mel[0, :10])
    torch.testing.assert_close(visual[1, :6], codes[1, :6])
    assert audio[1, 21:].abs().max() == 0 and visual[1, 21:].abs().max() == 0
    assert (audio[0, 10:] - mel[0, 10:]).abs().mean() > 0.1, "generated frames are not a copy of the context"
    # sample 1 alone (no padding, no neighbour) gives the same result as inside the batch
    a1, v1 = sampler.sample(mel[1:, :21], codes[1:, :21], ref_len[1:], total[1:], text[1:], seeds=[4])
    torch.testing.assert_close(a1[0], audio[1, :21], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(v1[0], visual[1, :21], atol=1e-4, rtol=1e-4)


def test_sampler_encodes_text_once_per_call():
    model = make_tiny_model()
    mel, codes, ref_len, total, text = sampler_inputs(model)
    calls = []
    handle = model.text_encoder.register_forward_hook(lambda *a: calls.append(1))
    FlowSampler(model, SamplerConfig(steps=16)).sample(mel, codes, ref_len, total, text)
    handle.remove()
    assert len(calls) == 1


def test_sampler_rejects_bad_lengths():
    model = make_tiny_model()
    mel, codes, _, _, text = sampler_inputs(model)
    sampler = FlowSampler(model, SamplerConfig(steps=2))
    with pytest.raises(ValueError, match="at least one frame"):
        sampler.sample(mel, codes, torch.tensor([30, 30]), torch.tensor([30, 30]), text)
    with pytest.raises(ValueError, match="exceeds"):
        sampler.sample(mel, codes, torch.tensor([5, 5]), torch.tensor([31, 30]), text)
    with pytest.raises(ValueError, match="cfg_mode"):
        SamplerConfig(cfg_mode="triple")


# ---------------------------------------------------------------- learning
def test_small_model_overfits_one_batch():
    """Same batch, same noise/t/mask each step: a small model must drive the loss down at least 10x."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = OmniTalkerDiT(tiny_config(dim=96, heads=4, dim_head=24, fusion_depth=2, conv_pos_groups=4))
    mel, codes, text, lengths = random_batch(b=2, n=24, lengths=[24, 18], seed=1)
    obj = FlowMatchingObjective(ObjectiveConfig(drop_text=0.0, drop_audio=0.0, drop_visual=0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for step in range(300):
        out = obj(model, mel, codes, text, lengths, generator=torch.Generator().manual_seed(0))
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(out.loss.item())
        if losses[-1] < losses[0] / 12:
            break
    print(f"overfit: {losses[0]:.3f} -> {losses[-1]:.4f} in {len(losses)} steps")
    assert losses[-1] < losses[0] / 10
