"""Vocoder: our mel equals Vocos's, the mel-24khz architecture decodes to frames x 256, local loading round-trips."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from vocos.feature_extractors import MelSpectrogramFeatures

from omnitalker.audio.mel import log_mel
from omnitalker.constants import HOP_LENGTH, LOG_MEL_FLOOR, N_MELS, SAMPLE_RATE
from omnitalker.vocoder import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    GriffinLimVocoder,
    MelShapeError,
    VocoderConfigError,
    VocoderWeightsNotFoundError,
    VocosArchitecture,
    VocosVocoder,
    build_vocos,
    load_vocoder,
    save_vocos,
)

TINY = VocosArchitecture(dim=32, intermediate_dim=64, num_layers=2)


pytestmark = pytest.mark.usefixtures("single_thread")


def _speechlike(seconds: float = 0.5, batch: int = 2) -> torch.Tensor:
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE  # (samples,)
    f0 = torch.tensor([140.0, 220.0])[:batch, None]  # (B, 1)
    wav = sum(0.3 / k * torch.sin(2 * math.pi * k * f0 * t) for k in range(1, 6))  # (B, samples)
    return wav * (0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t))  # syllable-rate envelope


def test_project_mel_matches_vocos_feature_extractor():
    wav = _speechlike()
    wav[1, 4000:6000] = 0.0  # a silent stretch exercises the log floor
    ours = log_mel(wav)  # (B, frames, 100)
    theirs = MelSpectrogramFeatures(sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=HOP_LENGTH, n_mels=N_MELS)(wav)
    theirs = theirs.transpose(1, 2)  # (B, frames, 100)
    assert ours.shape == theirs.shape
    # Vocos clips at 1e-7 before the log, we at 1e-5: identical wherever the magnitude is above our floor.
    floor = math.log(LOG_MEL_FLOOR)
    above = theirs > floor + 1e-4
    assert above.float().mean() > 0.5
    torch.testing.assert_close(ours[above], theirs[above], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours, theirs.clamp(min=floor), atol=1e-4, rtol=1e-5)


def test_public_architecture_shapes_and_length():
    model = build_vocos()  # the public mel-24khz sizes, random weights
    params = sum(p.numel() for p in model.parameters())
    assert abs(params / 1e6 - 13.53) < 0.01
    vocoder = VocosVocoder(model)
    mel = log_mel(_speechlike(0.3))  # (2, frames, 100)
    wav = vocoder.decode(mel)
    assert wav.shape == (2, mel.shape[1] * HOP_LENGTH)
    assert torch.isfinite(wav).all() and wav.abs().max() > 0
    # batched decode equals per-item decode
    torch.testing.assert_close(wav[1:], vocoder.decode(mel[1:]), atol=1e-5, rtol=1e-4)


def test_save_and_load_public_layout(tmp_path):
    torch.manual_seed(0)
    model = build_vocos(TINY)
    save_vocos(model, tmp_path, TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE])
    config = yaml.safe_load((tmp_path / CONFIG_FILE).read_text())
    assert config["head"]["init_args"]["padding"] == "same"
    assert config["feature_extractor"]["init_args"]["padding"] == "center"
    loaded = load_vocoder("vocos", tmp_path)
    mel = torch.randn(3, 17, N_MELS) - 4
    expected = VocosVocoder(model).decode(mel)
    assert torch.equal(loaded.decode(mel), expected)
    assert expected.shape == (3, 17 * HOP_LENGTH)


def test_missing_files_name_the_file(tmp_path):
    with pytest.raises(VocoderWeightsNotFoundError, match="does not exist"):
        load_vocoder("vocos", tmp_path / "nowhere")
    save_vocos(build_vocos(TINY), tmp_path, TINY)
    (tmp_path / WEIGHTS_FILE).unlink()
    with pytest.raises(VocoderWeightsNotFoundError, match=WEIGHTS_FILE):
        load_vocoder("vocos", tmp_path)
    with pytest.raises(VocoderWeightsNotFoundError, match="griffin_lim"):
        load_vocoder("vocos", None)
    with pytest.raises(VocoderConfigError, match="unknown vocoder kind"):
        load_vocoder("hifigan", tmp_path)  # type: ignore[arg-type]


def test_incompatible_config_and_weights_are_refused(tmp_path):
    save_vocos(build_vocos(TINY), tmp_path, TINY)
    config = yaml.safe_load((tmp_path / CONFIG_FILE).read_text())
    config["feature_extractor"]["init_args"]["hop_length"] = 300
    (tmp_path / CONFIG_FILE).write_text(yaml.safe_dump(config))
    with pytest.raises(VocoderConfigError, match="hop_length"):
        load_vocoder("vocos", tmp_path)
    config["feature_extractor"]["init_args"]["hop_length"] = HOP_LENGTH
    config["backbone"]["init_args"]["dim"] = 48  # weights no longer match
    config["head"]["init_args"]["dim"] = 48
    (tmp_path / CONFIG_FILE).write_text(yaml.safe_dump(config))
    with pytest.raises(VocoderConfigError, match="do not match"):
        load_vocoder("vocos", tmp_path)


def test_bad_mel_shapes():
    vocoder = VocosVocoder(build_vocos(TINY))
    with pytest.raises(MelShapeError, match="100"):
        vocoder.decode(torch.zeros(1, 10, 80))
    with pytest.raises(MelShapeError, match="empty"):
        vocoder.decode(torch.zeros(1, 0, N_MELS))
    with pytest.raises(MelShapeError, match="NaN"):
        vocoder.decode(torch.full((1, 4, N_MELS), float("nan")))


def test_griffin_lim_recovers_the_mel():
    wav = _speechlike(0.5, batch=1)
    mel = log_mel(wav)  # (1, frames, 100)
    out = GriffinLimVocoder(n_iter=32).decode(mel)
    assert out.shape == (1, mel.shape[1] * HOP_LENGTH)
    # Re-analysing the Griffin-Lim audio gives back (roughly) the same mel: the fallback really decodes.
    remel = log_mel(out)[:, : mel.shape[1]]
    loud = mel > mel.max() - 6
    assert (remel[loud] - mel[loud]).abs().mean() < 0.5
    assert (log_mel(torch.zeros_like(out))[:, : mel.shape[1]][loud] - mel[loud]).abs().mean() > 3


def test_audio_segments_from_folder_and_corpus(tmp_path):
    import numpy as np
    import soundfile as sf

    from omnitalker.data.corpus import ClipRecord, CorpusWriter
    from omnitalker.vocoder.data import AudioDataError, AudioSegmentDataset

    wav_dir = tmp_path / "wavs"
    wav_dir.mkdir()
    stereo_16k = np.stack([np.sin(np.arange(16000) / 5), np.zeros(16000)], axis=1).astype(np.float32) * 0.2
    sf.write(wav_dir / "a.wav", stereo_16k, 16000)  # 1 s, 16 kHz stereo -> resampled, downmixed
    sf.write(wav_dir / "short.flac", np.full(1000, 0.1, np.float32), 24000)  # shorter than a segment -> padded
    with CorpusWriter(tmp_path / "corpus", fsync=False) as writer:
        writer.add(
            ClipRecord(
                clip_id="c",
                source_id="s",
                speaker_id=None,
                language="en",
                text="x",
                codes=np.zeros((25, 61), np.float32),
                fps=25.0,
                audio=(0.3 * np.sin(np.arange(24000) / 3)).astype(np.float32),
                mel=None,
            )
        )
    ds = AudioSegmentDataset([tmp_path / "corpus"], [wav_dir], segment_samples=4096, split="all")
    assert len(ds) == 3
    for i in range(3):
        seg = ds[i]
        assert seg.shape == (4096,) and seg.dtype == torch.float32
        peak = float(seg.abs().max())
        assert 10 ** (-6 / 20) - 1e-4 <= peak <= 10 ** (-1 / 20) + 1e-4  # peak-normalised to [-6, -1] dBFS
    padded = next(ds[i] for i in range(3) if ds.items[i].name == "short.flac")
    assert float(padded[1100:].abs().max()) == 0
    with pytest.raises(AudioDataError, match="does not exist"):
        AudioSegmentDataset(wav_dirs=[tmp_path / "missing"])
    with pytest.raises(AudioDataError, match="no audio"):
        AudioSegmentDataset(wav_dirs=[tmp_path / "corpus"])  # a folder without audio files


def test_vocoder_module_one_gan_step_and_export(tmp_path):
    import lightning as L
    from torch.utils.data import DataLoader

    from omnitalker.training.vocoder_module import VocoderModule

    torch.manual_seed(0)
    module = VocoderModule(arch={"dim": 16, "intermediate_dim": 32, "num_layers": 1}, total_steps=10, mpd_periods=(2,))
    audio = _speechlike(4096 / SAMPLE_RATE)  # (2, 4096)
    loader = DataLoader(list(audio), batch_size=2)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    trainer = L.Trainer(
        max_steps=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, loader)
    assert trainer.global_step == 2  # one discriminator + one generator step
    changed = {n.split(".")[0] for n, p in module.named_parameters() if not torch.equal(p, before[n])}
    assert {"backbone", "head", "mpd", "mrd"} <= changed
    for key in ("train/mel_loss", "train/disc_loss", "train/gen_adv_fm_loss"):
        assert torch.isfinite(trainer.callback_metrics[key])
    module.export(tmp_path)
    with torch.no_grad():
        expected = module(log_mel(audio)[:, :-1])
    torch.testing.assert_close(load_vocoder("vocos", tmp_path).decode(log_mel(audio)[:, :-1]), expected)


def test_training_segments_are_seeded_by_seed_epoch_index(tmp_path):
    """Train-mode offsets and gains are a function of (seed, epoch, index): two datasets (or loaders) agree, each
    epoch draws anew, and the loader's keys carry the epoch (persistent workers see it too)."""
    import numpy as np
    import soundfile as sf
    from omegaconf import OmegaConf

    from omnitalker.training.run_utils import train_val_loaders
    from omnitalker.vocoder.data import AudioSegmentDataset

    rng = np.random.default_rng(0)
    for i in range(4):
        sf.write(tmp_path / f"{i}.wav", (0.3 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32), SAMPLE_RATE)

    def dataset(seed: int = 7) -> AudioSegmentDataset:
        return AudioSegmentDataset(wav_dirs=[tmp_path], segment_samples=1024, split="train", val_fraction=0.0, seed=seed)

    a, b = dataset(), dataset()
    assert len(a) == 3  # a tiny set holds out its last item
    for key in (0, (1, 0), (2, 3)):
        assert torch.equal(a[key], b[key])
    assert torch.equal(a[1], a[(1, 0)])  # plain keys use the dataset's epoch (0)
    assert not torch.equal(a[(1, 0)], a[(1, 1)]), "a new epoch must draw a new segment"
    assert not torch.equal(a[(1, 0)], dataset(seed=8)[(1, 0)]), "the seed must matter"
    a.set_epoch(1)
    assert torch.equal(a[1], b[(1, 1)])

    data = OmegaConf.create({"batch_size": 2, "val_batch_size": 2, "num_workers": 0})
    loader_a, _ = train_val_loaders(dataset(), dataset(), data)
    loader_b, _ = train_val_loaders(dataset(), dataset(), data)
    for epoch in (0, 1):
        loader_a.sampler.set_epoch(epoch)
        loader_b.sampler.set_epoch(epoch)
        keys = list(loader_a.sampler)
        assert sorted(k[0] for k in keys) == [0, 1, 2] and {k[1] for k in keys} == {epoch}
        for x, y in zip(loader_a, loader_b):
            assert torch.equal(x, y)


def test_vocoder_resume_keeps_the_generator_step_count(tmp_path):
    """pretrain_mel_steps=2, max_steps=6 (D and G steps both count): 2 G-only batches, then 2 D+G batches = 4 G and
    2 D steps. Resuming from the checkpoint after the mel-only phase must end at the same counts (the renderer's
    test also covers checkpoints without the stored counter)."""
    import lightning as L
    from torch.utils.data import DataLoader

    from omnitalker.training.vocoder_module import VocoderModule

    def module() -> VocoderModule:
        torch.manual_seed(0)
        return VocoderModule(
            arch={"dim": 16, "intermediate_dim": 32, "num_layers": 1}, total_steps=6, mpd_periods=(2,),
            pretrain_mel_steps=2, num_val_audio_logged=0,
        )

    def fit(m: VocoderModule, max_steps: int, ckpt_path=None) -> L.Trainer:
        trainer = L.Trainer(
            max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        )
        trainer.fit(m, DataLoader(list(_speechlike(2048 / SAMPLE_RATE)), batch_size=1), ckpt_path=ckpt_path)
        return trainer

    first = fit(module(), 2)
    ckpt = tmp_path / "mid.ckpt"
    first.save_checkpoint(ckpt)
    resumed_module = module()
    resumed = fit(resumed_module, 6, ckpt_path=ckpt)
    steps = [max(int(s["step"]) for s in opt.state.values()) for opt in resumed.optimizers]  # (D, G)
    assert resumed.global_step == 6 and steps == [2, 4] and resumed_module._g_steps == 4
