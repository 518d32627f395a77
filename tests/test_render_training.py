"""Renderer training path: corpus clips (mp4 bytes + codes) -> pairs -> RendererModule (manual G/D) -> export."""

from __future__ import annotations

import io
import math

import av
import lightning as L
import numpy as np
import pytest
import torch
from test_render import tiny_face_model
from torch.utils.data import DataLoader

from omnitalker.constants import CODE_DIM, SAMPLE_RATE
from omnitalker.data.corpus import ClipRecord, CorpusWriter
from omnitalker.render import RenderDataError, load_renderer
from omnitalker.render.data import RendererPairDataset, decode_video
from omnitalker.training.renderer_module import RendererModule

FPS = 25.0
FRAMES = 8
SIZE = 64


pytestmark = pytest.mark.usefixtures("single_thread")


def encode_mp4(frames: np.ndarray, fps: float = FPS) -> bytes:
    """(T, H, W, 3) uint8 -> h264 mp4 bytes."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "10", "preset": "ultrafast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def clip_frames(seed: int) -> np.ndarray:
    """A bright disk ("face") on a coloured background whose dark "mouth" opens over the clip: (T, S, S, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    frames = []
    for t in range(FRAMES):
        img = np.ones((SIZE, SIZE, 3)) * rng.uniform(0.1, 0.4, 3)
        img[(xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.09] = (0.9, 0.7, 0.6)
        img[(np.abs(xx - 0.5) < 0.1) & (np.abs(yy - 0.65) < 0.01 + 0.01 * t)] = (0.3, 0.05, 0.05)
        frames.append((img * 255).astype(np.uint8))
    return np.stack(frames)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("render_corpus")
    with CorpusWriter(root, fsync=False) as writer:
        for i in range(4):
            codes = np.zeros((FRAMES, CODE_DIM), np.float32)
            codes[:, 24] = np.linspace(0, 1, FRAMES)  # jawOpen opens over the clip
            t = np.arange(int(FRAMES / FPS * SAMPLE_RATE)) / SAMPLE_RATE
            writer.add(
                ClipRecord(
                    clip_id=f"clip{i}",
                    source_id=f"src{i}",
                    speaker_id=f"spk{i}",
                    language="en",
                    text="a",
                    codes=codes,
                    fps=FPS,
                    audio=(0.1 * np.sin(2 * math.pi * 200 * t)).astype(np.float32),
                    mel=None,
                    video=encode_mp4(clip_frames(i)),
                )
            )
        writer.add(
            ClipRecord(  # no video: must be skipped by the renderer data
                clip_id="novideo",
                source_id="src9",
                speaker_id=None,
                language="en",
                text="a",
                codes=np.zeros((FRAMES, CODE_DIM), np.float32),
                fps=FPS,
                audio=np.zeros(int(FRAMES / FPS * SAMPLE_RATE), np.float32),
                mel=None,
            )
        )
    return root


def test_pairs_come_from_one_clip_with_aligned_codes(corpus):
    ds = RendererPairDataset(corpus, split="all", input_size=32, output_size=SIZE, pairs_per_clip=3)
    assert len(ds.clips) == 4 and len(ds) == 12
    item = ds[0]
    assert item["source"].shape == (3, 32, 32) and item["driving"].shape == (3, SIZE, SIZE)
    assert item["source_codes"].shape == (CODE_DIM,) and item["driving_codes"].shape == (CODE_DIM,)
    # the driving frame's mouth height matches its jawOpen code (the frame index the codes came from)
    frame_index = round(float(item["driving_codes"][24]) * (FRAMES - 1))
    expected = torch.from_numpy(clip_frames(0)[frame_index]).permute(2, 0, 1).float() / 255
    assert (item["driving"] - expected).abs().mean() < 0.03
    val_a = RendererPairDataset(corpus, split="all", input_size=32, output_size=SIZE)
    val_a.train = False
    assert torch.equal(val_a[1]["driving"], val_a[1]["driving"])  # fixed validation pairs


def test_data_errors(corpus, tmp_path):
    with pytest.raises(RenderDataError, match="empty"):
        RendererPairDataset(corpus, split="val", val_fraction=0.0)
    with pytest.raises(RenderDataError, match="decode"):
        decode_video(b"not an mp4 at all")
    assert decode_video(encode_mp4(clip_frames(1))).shape == (FRAMES, SIZE, SIZE, 3)


TINY_RENDERER = {
    "input_size": 32,
    "output_size": SIZE,
    "appearance": {
        "block_expansion": 8,
        "max_features": 32,
        "reshape_channel": 8,
        "reshape_depth": 4,
        "num_resblocks": 1,
    },
    "motion": {"block_expansion": 8, "max_features": 32, "num_blocks": 1, "compress": 2, "mask_kernel_size": 3},
    "generator": {"features": 32, "num_resblocks": 1, "min_features": 16, "spectral_norm": False},
}


def test_module_trains_with_gan_and_exports(corpus, tmp_path):
    torch.manual_seed(0)
    module = RendererModule(
        renderer=TINY_RENDERER,
        loss={"allow_random_vgg": True, "vgg_scales": [1.0], "mouth_crop_size": 16, "gan_start_step": 0},
        discriminator={"num_scales": 2, "channels": 8, "num_layers": 3, "max_channels": 32},
        face_model=tiny_face_model(),
    )
    ds = RendererPairDataset(corpus, split="all", input_size=32, output_size=SIZE, pairs_per_clip=2)
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    disc_before = [p.detach().clone() for p in module.discriminator.parameters()]
    trainer = L.Trainer(
        max_steps=6,
        accelerator="cpu",
        logger=L.pytorch.loggers.CSVLogger(tmp_path),
        limit_val_batches=1,
        val_check_interval=2,
        check_val_every_n_epoch=None,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, loader, DataLoader(ds, batch_size=4))
    metrics = trainer.callback_metrics
    for key in (
        "train/l1",
        "train/perceptual",
        "train/mouth_perceptual",
        "train/gan_g",
        "train/gan_d",
        "train/feature_matching",
        "val/l1",
    ):
        assert key in metrics and torch.isfinite(metrics[key]), key
    assert any(not torch.equal(a, b) for a, b in zip(disc_before, module.discriminator.parameters()))
    assert list((tmp_path / "lightning_logs").rglob("samples/*.png")), "no sample grid written"
    module.export(tmp_path / "export")
    loaded = load_renderer(tmp_path / "export")
    batch = next(iter(DataLoader(ds, batch_size=2)))
    module.renderer.eval()
    with torch.no_grad():
        expected = module.renderer(batch["source"], batch["source_codes"], batch["driving_codes"]).image
        got = loaded(batch["source"], batch["source_codes"], batch["driving_codes"]).image
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(
    "config_name,experiment",
    [
        ("train_renderer", "renderer_smoke"),
        ("train_renderer", None),
        ("train_vocoder", "vocoder_smoke"),
        ("train_vocoder", None),
    ],
)
def test_hydra_configs_compose(config_name, experiment):
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from omnitalker.render import RendererConfig
    from omnitalker.vocoder import VocosArchitecture

    overrides = [f"experiment={experiment}"] if experiment else []
    with initialize_config_dir(str(Path(__file__).resolve().parents[1] / "configs"), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides + ["paths.output_dir=/tmp/x"])
    assert cfg.trainer.gradient_clip_val is None  # manual optimisation: Lightning must not clip
    assert "sample_logger" not in cfg.callbacks or cfg.callbacks.sample_logger is None
    model = OmegaConf.to_container(cfg.model, resolve=True)
    if config_name == "train_renderer":
        rcfg = RendererConfig.from_dict(model["renderer"])
        assert rcfg.output_size == (128 if experiment else 512)
        assert model["loss"]["allow_random_vgg"] is bool(experiment)
    else:
        arch = VocosArchitecture.from_dict(model["arch"])
        assert arch.dim == (64 if experiment else 512)


def test_training_pairs_are_seeded_by_seed_epoch_index(corpus):
    """Train-mode pairs are a function of (seed, epoch, index): two datasets agree, epochs and seeds differ."""

    def dataset(seed: int = 3) -> RendererPairDataset:
        return RendererPairDataset(
            corpus, split="train", val_fraction=0.0, input_size=32, output_size=SIZE, pairs_per_clip=4, seed=seed
        )

    a, b = dataset(), dataset()
    assert a.train and len(a) == 16

    def codes(ds, key) -> torch.Tensor:
        item = ds[key]
        return torch.stack([item["source_codes"][24], item["driving_codes"][24]])  # jawOpen = frame index

    for key in (0, (5, 0), (9, 4)):
        item_a, item_b = a[key], b[key]
        assert all(torch.equal(item_a[k], item_b[k]) for k in item_a)
    draws = lambda ds, epoch: torch.stack([codes(ds, (i, epoch)) for i in range(len(ds))])  # (N, 2)
    assert not torch.equal(draws(a, 0), draws(a, 1)), "a new epoch must draw new pairs"
    assert not torch.equal(draws(a, 0), draws(dataset(seed=4), 0)), "the seed must matter"
    a.set_epoch(2)
    assert torch.equal(codes(a, 3), codes(b, (3, 2)))


def _tiny_module(gan_start_step: int) -> RendererModule:
    torch.manual_seed(0)
    return RendererModule(
        renderer=TINY_RENDERER,
        loss={"allow_random_vgg": True, "vgg_scales": [1.0], "vgg_num_layers": 2, "mouth_crop_size": 16,
              "gan_start_step": gan_start_step},
        discriminator={"num_scales": 1, "channels": 8, "num_layers": 2, "max_channels": 16},
        face_model=tiny_face_model(),
    )


def _fit(module: RendererModule, loader: DataLoader, max_steps: int, ckpt_path=None) -> L.Trainer:
    trainer = L.Trainer(
        max_steps=max_steps, accelerator="cpu", logger=False, limit_val_batches=0, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )
    trainer.fit(module, loader, ckpt_path=ckpt_path)
    return trainer


def _optimizer_steps(trainer: L.Trainer) -> list[int]:
    """Steps each optimiser (G, D) has taken, from Adam's per-parameter step counters (restored on resume)."""
    return [max((int(st["step"]) for st in opt.state.values()), default=0) for opt in trainer.optimizers]


@pytest.mark.parametrize("stop_at, drop_counter", [(5, False), (5, True)])
def test_resume_keeps_the_generator_step_count(corpus, tmp_path, stop_at, drop_counter):
    """gan_start_step=3, max_steps=7 (G and D steps both count): 3 G-only batches, then 2 G+D batches = 5 G and
    2 D steps. Resuming from a checkpoint taken after ``stop_at`` optimiser steps must end at the same counts, also
    from a checkpoint written before the generator-step counter was stored (``drop_counter``)."""
    ds = RendererPairDataset(corpus, split="all", input_size=32, output_size=SIZE, pairs_per_clip=2)
    loader = DataLoader(ds, batch_size=2)
    first = _fit(_tiny_module(3), loader, stop_at)
    ckpt = tmp_path / "mid.ckpt"
    first.save_checkpoint(ckpt)
    if drop_counter:
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        assert state.pop("generator_steps") == 4
        torch.save(state, ckpt)
    module = _tiny_module(3)
    resumed = _fit(module, loader, 7, ckpt_path=ckpt)
    assert resumed.global_step == 7
    assert _optimizer_steps(resumed) == [5, 2]
    assert module._g_steps == 5
