"""DiT step of inference (batched chunks sharing a reference) and the training benchmark helper."""

from __future__ import annotations

import pytest
import torch
from conftest import make_tiny_model

from omnitalker.checkpoint import LoadedDiT
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.flow.sampler import SamplerConfig
from omnitalker.inference.errors import TextInputError
from omnitalker.inference.generator import DiTGenerator
from omnitalker.text import Vocab
from omnitalker.training.benchmark import benchmark_train_step


@pytest.fixture
def generator() -> DiTGenerator:
    vocab = Vocab.build(["hello world, this is a test.", "你好"])
    model = make_tiny_model(text_vocab_size=len(vocab))
    normalizer = CodeNormalizer(torch.full((61,), 0.3), torch.full((61,), 0.5))
    loaded = LoadedDiT(model, list(vocab.symbols), normalizer.state_dict(), {}, "ema")
    return DiTGenerator(loaded, SamplerConfig(steps=3))


def test_generates_each_chunk_with_its_length(generator):
    ref_mel, ref_codes = torch.randn(20, 100), torch.rand(20, 61)
    out = generator.generate(ref_mel, ref_codes, "hello world", ["this is a test.", "hello"], [15, 9], seed=1)
    assert [o.mel.shape for o in out] == [(15, 100), (9, 100)]
    assert [o.codes.shape for o in out] == [(15, 61), (9, 61)]
    for o in out:
        assert torch.isfinite(o.mel).all() and o.codes[:, :51].min() >= 0 and o.codes[:, :51].max() <= 1
    again = generator.generate(ref_mel, ref_codes, "hello world", ["this is a test."], [15], seed=1)
    torch.testing.assert_close(again[0].mel, out[0].mel, atol=1e-4, rtol=1e-4)  # batch-independent


def test_bad_text_and_shapes(generator):
    ref_mel, ref_codes = torch.randn(20, 100), torch.rand(20, 61)
    with pytest.raises(TextInputError, match="empty"):
        generator.generate(ref_mel, ref_codes, "hello", ["   "], [5])
    with pytest.raises(TextInputError, match="unknown to the vocabulary"):
        generator.generate(ref_mel, ref_codes, "hello", ["ÆØÅ ⊗"], [5])
    with pytest.raises(ValueError, match="share n"):
        generator.generate(ref_mel, ref_codes[:10], "hello", ["hi"], [5])


def test_train_benchmark_reports_throughput():
    model = make_tiny_model()
    result = benchmark_train_step(model.train(), torch.device("cpu"), batch=2, frames=40, bf16=False, warmup=1, iters=2)
    assert result.frames_per_s > 0 and result.tflops_per_s > 0 and result.mfu is None and result.batch == 2


def test_inference_benchmark_times_the_pipeline():
    """The benchmark runs OmniTalkerPipeline.generate itself (random models): every stage timed, the latency of the
    first piece below the total, real-time factor = total / output seconds."""
    from dataclasses import asdict

    from conftest import tiny_config

    from omnitalker.inference.benchmark import benchmark_pipeline, random_pipeline, synthetic_reference
    from omnitalker.inference.pipeline import PipelineConfig
    from omnitalker.render.config import small_config
    from omnitalker.vocoder import VocosArchitecture

    cfg = PipelineConfig("", None, device="cpu", sampler={"steps": 2}, video_size=128, first_chunk_seconds=0.5)
    pipe = random_pipeline(cfg, asdict(tiny_config()), small_config(), vocos_arch=VocosArchitecture(32, 64, 2))
    result = benchmark_pipeline(pipe, synthetic_reference(1.0, 64), "Hello there. How are you today?", warmup=False)
    for stage in ("dit_s", "vocoder_s", "renderer_s", "mux_s"):
        assert result[stage] > 0
    assert 0 < result["first_piece_s"] < result["total_s"]
    assert result["rtf"] == pytest.approx(result["total_s"] / result["output_s"])
    assert result["fps_end_to_end"] == pytest.approx(result["output_s"] * 25 / result["total_s"])