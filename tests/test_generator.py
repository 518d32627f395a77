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


def test_inference_benchmark_times_every_stage():
    from omnitalker.face.face_model import FaceModel
    from omnitalker.inference.benchmark import benchmark_stages
    from omnitalker.render.config import small_config
    from omnitalker.render.renderer import Renderer
    from omnitalker.vocoder import GriffinLimVocoder

    result = benchmark_stages(
        make_tiny_model(), Renderer(small_config(), FaceModel.default()), GriffinLimVocoder("cpu"),
        torch.device("cpu"), reference_seconds=0.5, generated_seconds=0.4, fps=25, sampler=SamplerConfig(steps=2),
        bf16=False, repeats=1,
    )
    for stage in ("dit_s", "vocoder_s", "renderer_s", "mux_s"):
        assert result[stage] > 0 and result[stage.replace("_s", "_s_per_generated_s")] > 0
    assert result["fps_end_to_end"] == pytest.approx(10 / result["total_s"])
