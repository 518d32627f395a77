"""Shared fixtures: tiny random models and synthetic batches (no downloads, no GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from omnitalker.models.config import DiTConfig
from omnitalker.models.dit import OmniTalkerDiT

SHARED = Path(__file__).resolve().parents[2] / "shared"


def tiny_config(**overrides) -> DiTConfig:
    values = dict(
        dim=64, fusion_depth=2, audio_depth=1, visual_depth=1, heads=4, dim_head=16, ff_mult=2, dropout=0.0,
        text_vocab_size=40, text_dim=32, text_conv_layers=2, conv_pos_kernel=5, conv_pos_groups=4,
        text_max_positions=1024,
    )
    values.update(overrides)
    return DiTConfig(**values)


def randomize_zero_inits(model: torch.nn.Module, std: float = 0.05, seed: int = 0) -> torch.nn.Module:
    """Give every zero-initialised weight element (AdaLN-Zero, output heads, GRN, fusion gates) a random value, so an
    untrained model's output depends on its inputs (tests of information flow would otherwise see zeros)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            zero = p == 0
            p.copy_(torch.where(zero, torch.randn(p.shape, generator=gen) * std, p))
    return model


def make_tiny_model(seed: int = 0, **overrides) -> OmniTalkerDiT:
    torch.manual_seed(seed)
    return randomize_zero_inits(OmniTalkerDiT(tiny_config(**overrides)), seed=seed).eval()


def random_batch(b: int = 3, n: int = 40, vocab: int = 40, seed: int = 0, lengths: list[int] | None = None):
    gen = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths if lengths is not None else [n] * b)
    mel = torch.randn(b, n, 100, generator=gen)
    codes = torch.randn(b, n, 61, generator=gen)
    text = torch.randint(0, vocab, (b, n // 3), generator=gen)
    return mel, codes, text, lengths_t


@pytest.fixture
def tiny_model() -> OmniTalkerDiT:
    return make_tiny_model()


@pytest.fixture(scope="session")
def synthetic_tiny(tmp_path_factory):
    """The synthetic corpus generator's `tiny` preset (4 clips, 4 speakers, ~18 s), generated once per session:
    (output folder with corpus/, clips/, ground_truth/; the generator's summary)."""
    from data_prep.synthetic.generate import PRESETS, SyntheticCorpusConfig, generate_corpus

    out = tmp_path_factory.mktemp("synthetic") / "tiny"
    summary = generate_corpus(SyntheticCorpusConfig(out=str(out), progress=False, **PRESETS["tiny"]))
    return out, summary


@pytest.fixture
def single_thread():
    """Small convolutions gain nothing from threads; on a shared 2-core box extra threads only spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smoke_models(synthetic_tiny, tmp_path_factory):
    """Session-wide (several modules use it; trained once). A DiT trained for a few steps on the tiny synthetic corpus (real vocabulary, EMA, checkpoint format) and a
    small random renderer: the mechanics of inference, not its quality."""
    out, _ = synthetic_tiny
    run = tmp_path_factory.mktemp("dit")
    args = ["model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={out / 'corpus'}", f"paths.output_dir={run}",
            "data.num_workers=0", "data.max_frames=2000", "trainer.max_steps=2", "trainer.enable_progress_bar=false",
            "callbacks.sample_logger.every_n_steps=0", "callbacks.model_checkpoint.every_n_train_steps=2"]
    from hydra import compose, initialize_config_dir

    from omnitalker.face.face_model import FaceModel
    from omnitalker.render.checkpoint import save_renderer
    from omnitalker.render.config import small_config
    from omnitalker.render.renderer import Renderer
    from omnitalker.training.run import train

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "configs"), version_base="1.3"):
        train(compose("train", overrides=args))
    renderer_dir = save_renderer(Renderer(small_config(), FaceModel.default()).eval(), run / "renderer")
    return run / "checkpoints" / "last.ckpt", renderer_dir


@pytest.fixture(scope="session")
def reference(synthetic_tiny):
    out, _ = synthetic_tiny
    clip = sorted((out / "clips").glob("synth_en_*.mp4"))[0]
    truth = out / "ground_truth" / f"{clip.stem}.npz"
    import numpy as np

    return clip, truth, str(np.load(truth)["text"])
