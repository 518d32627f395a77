"""Long text without seams (SPEC §5, issue 9 §4): each chunk is prompted with the previous one, the residual offset is
ramped out, and the seam jump lies inside the within-chunk distribution of frame-to-frame changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_model

from omnitalker.checkpoint import LoadedDiT
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.flow.sampler import SamplerConfig
from omnitalker.inference.generator import DiTGenerator
from omnitalker.inference.seams import CodeSeamJoiner, seam_jumps
from omnitalker.text import Vocab

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("measure_seams", ROOT / "scripts/measure_seams.py")
measure_seams = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure_seams)


def smooth(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return (0.3 * np.sin(2 * np.pi * t / rng.uniform(60, 200, d) + rng.uniform(0, 6, d))).astype(np.float32)


def test_joiner_ramps_out_an_offset_and_keeps_a_continuation():
    first = smooth(100, 6, 0)
    continued = smooth(180, 6, 0)[100:]  # the same trajectory: already continuous
    joiner = CodeSeamJoiner(ramp_frames=40)
    np.testing.assert_array_equal(joiner.push(first), first)  # the first chunk is never changed
    out = joiner.push(continued)
    np.testing.assert_allclose(out, continued, atol=5e-3)  # nothing to correct (up to the extrapolation error)

    joiner = CodeSeamJoiner(ramp_frames=40)
    joiner.push(first)
    jumped = continued + 0.5  # a chunk that restarted elsewhere
    out = joiner.push(jumped)
    np.testing.assert_allclose(out[40:], jumped[40:])  # only the ramp is touched
    steps = np.abs(np.diff(np.concatenate([first, out]), axis=0)).max(1)
    natural = np.abs(np.diff(smooth(180, 6, 0), axis=0)).max()  # largest step of the trajectory itself
    assert steps[99] <= 1.05 * natural  # the seam step is an ordinary step
    assert steps.max() <= natural + 0.5 * np.pi / 2 / 40  # the ramp adds at most pi/2 x offset / ramp per frame


def test_joiner_keeps_blendshapes_in_range():
    joiner = CodeSeamJoiner(ramp_frames=10, clip=(slice(0, 2), 0.0, 1.0))
    joiner.push(np.full((20, 3), 0.99, np.float32) + np.linspace(0, 0.01, 20, dtype=np.float32)[:, None])
    out = joiner.push(np.zeros((20, 3), np.float32))
    assert out[:, :2].max() <= 1.0 and out[0, 2] > 1.0  # clipped channels stay in [0, 1], the others are free


def test_seam_jumps_percentile():
    codes = smooth(300, 6, 1)
    codes[150:] += 0.2  # a jump at frame 150
    report = seam_jumps(codes, [150], slice(0, 6))
    assert report["percentiles"] == [100.0] and report["jumps"][0] > 0.19
    smooth_report = seam_jumps(smooth(300, 6, 1), [150], slice(0, 6))
    assert smooth_report["percentiles"][0] < 100.0
    with pytest.raises(Exception, match="outside"):
        seam_jumps(codes, [400], slice(0, 6))


class RecordingSampler:
    """Records what the generator prompts the sampler with; returns the prompt continued by its last frame."""

    def __init__(self) -> None:
        self.calls = []

    def sample(self, context_audio, context_visual, reference_lengths, total_lengths, text, seeds=None):
        self.calls.append((context_audio.clone(), context_visual.clone(), reference_lengths.tolist(),
                           total_lengths.tolist(), text.clone()))
        r = int(reference_lengths[0])
        audio, visual = context_audio.clone(), context_visual.clone()
        audio[:, r:], visual[:, r:] = audio[:, r - 1 : r], visual[:, r - 1 : r] + 0.1
        return audio, visual


def test_each_chunk_is_prompted_with_the_reference_and_the_previous_chunk():
    vocab = Vocab.build(["hello world, this is a test. again and again"])
    normalizer = CodeNormalizer(torch.full((61,), 0.3), torch.full((61,), 0.5))
    generator = DiTGenerator(LoadedDiT(make_tiny_model(text_vocab_size=len(vocab)), list(vocab.symbols),
                                       normalizer.state_dict(), {}, "ema"), SamplerConfig(steps=1))
    generator.sampler = RecordingSampler()
    ref_mel, ref_codes = torch.randn(20, 100), torch.rand(20, 61) * 0.5
    texts, frames = ["this is a test.", "again and again", "hello"], [9, 12, 10]
    out = list(generator.continue_chunks(ref_mel, ref_codes, "hello world", texts, frames, max_frames=41))
    assert [o.mel.shape[0] for o in out] == frames
    calls = generator.sampler.calls
    assert [c[2] for c in calls] == [[20], [29], [20]]  # chunk 2: 20 + 12 + 10 > 41 frames, reference alone
    mel1, codes1 = calls[1][0][0], calls[1][1][0]
    torch.testing.assert_close(mel1[:20], ref_mel)
    torch.testing.assert_close(mel1[20:29], out[0].mel)  # chunk 0's generation is chunk 1's prompt
    torch.testing.assert_close(generator.normalizer.denormalize(codes1[20:29]), out[0].codes, atol=1e-5, rtol=0)
    ids1 = calls[1][4][0]
    assert ids1[ids1 >= 0].tolist() == generator.encode(["hello world", "this is a test."], "again and again").tolist()
    assert out[1].codes[0, 51:].sub(out[0].codes[-1, 51:]).abs().max() < 0.06  # continues where chunk 0 ended


@pytest.mark.parametrize("seconds", [14.0])
def test_long_text_seams_are_inside_the_within_chunk_distribution(smoke_models, reference, seconds, tmp_path):
    """With a model that continues its prompt smoothly, restarting each chunk from the reference (and blending 85 ms)
    puts every seam above all within-chunk changes (percentile 100); continuing the previous chunk must keep every
    seam inside the within-chunk distribution and the typical seam an ordinary step."""
    from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig

    dit, renderer = smoke_models
    clip, truth, ref_text = reference
    pipeline = OmniTalkerPipeline(PipelineConfig(str(dit), str(renderer), vocoder="griffin_lim", device="cpu",
                                                 crop="none", max_total_seconds=9.0, video_size=128))
    pipeline.generator.sampler = measure_seams.ContinuationSampler()
    analysis = pipeline.analyse_reference(clip, ref_text, truth)
    report = measure_seams.measure(pipeline, analysis, measure_seams.long_text(analysis, seconds), tmp_path)
    assert report["chunks"] >= 3
    for name in ("pose", "expression"):
        percentiles = report[name]["percentiles"]
        assert max(percentiles) < 100.0 and np.median(percentiles) <= 90.0, (name, report[name])



