"""Training system: kill-and-resume exactness, checkpoints for inference, fine-tuning with a grown vocabulary,
NaN reporting, lr schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from corpus_factory import make_records, write_corpus
from hydra import compose, initialize_config_dir

from omnitalker.checkpoint import CheckpointError, load_dit
from omnitalker.data.corpus import ClipRecord
from omnitalker.training.module import NonFiniteLossError
from omnitalker.training.optim import OptimConfig, lr_factor
from omnitalker.training.run import build, train

ROOT = Path(__file__).resolve().parents[1]


def overrides(corpus: Path, out: Path, steps: int, every: int = 2) -> list[str]:
    return [
        "model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={corpus}", f"paths.output_dir={out}",
        "data.num_workers=0", "data.max_frames=500", "data.max_samples=8", f"trainer.max_steps={steps}",
        f"callbacks.model_checkpoint.every_n_train_steps={every}", "callbacks.sample_logger.every_n_steps=0",
        "trainer.enable_progress_bar=false", "model.optim.warmup_steps=2", "model.optim.lr=1e-3",
        "model.ema.update_after_step=1", "model.ema.update_every=1", "model.ema.beta=0.9", "trainer.log_every_n_steps=1",
    ]


def config(args: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=args)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "c", make_records(48, num_sources=6, seed=3))


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def test_kill_and_resume_continues_the_same_run(corpus, tmp_path):
    steps = 10
    train(config(overrides(corpus, tmp_path / "straight", steps)))
    expected = final_weights(tmp_path / "straight")

    out = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "scripts/train.py"), *overrides(corpus, out, steps)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # dies mid-run, right after its first checkpoint
    proc.wait()
    assert last.exists(), "the run wrote no checkpoint before being killed"
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert killed_at < steps

    train(config(overrides(corpus, out, steps)))  # same run dir, ckpt_path=auto -> resumes
    resumed = final_weights(out)
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == steps
    for key, value in expected.items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-5, atol=1e-6, msg=f"{key} differs after resume")
    assert not list((out / "checkpoints").glob(".*tmp*")), "no half-written checkpoint may remain"


def test_checkpoint_loads_for_inference_with_everything_inside(corpus, tmp_path):
    out = tmp_path / "run"
    train(config(overrides(corpus, out, 4)))
    loaded = load_dit(out / "checkpoints" / "last.ckpt")
    assert loaded.weights == "ema" and len(loaded.vocab_symbols) == loaded.model.cfg.text_vocab_size
    assert loaded.vocab_symbols[0] == " "
    assert set(loaded.normalizer_state) >= {"mean", "std"}
    assert loaded.meta["config"]["model"]["name"] == "tiny" and "torch" in loaded.meta["versions"]
    assert (out / "config.yaml").exists() and (out / "vocab.txt").exists() and (out / "code_stats.json").exists()
    online = load_dit(out / "checkpoints" / "last.ckpt", prefer_ema=False)
    diff = sum((a - b).abs().sum() for a, b in zip(online.model.parameters(), loaded.model.parameters()))
    assert diff > 0, "EMA weights must differ from the online weights"

    with pytest.raises(CheckpointError, match="not found"):
        load_dit(out / "nope.ckpt")
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes((out / "checkpoints" / "last.ckpt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot read"):
        load_dit(broken)
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    ckpt["omnitalker"]["arch"]["dim"] = 128
    mismatched = tmp_path / "mismatched.ckpt"
    torch.save(ckpt, mismatched)
    with pytest.raises(CheckpointError, match="do not match"):
        load_dit(mismatched)


def test_finetune_extends_vocabulary(corpus, tmp_path):
    out = tmp_path / "pre"
    train(config(overrides(corpus, out, 2)))
    pre = load_dit(out / "checkpoints" / "last.ckpt")
    records = make_records(12, num_sources=3, seed=9, prefix="zh")
    records = [
        ClipRecord(**{**r.__dict__, "text": "你好世界 " + r.text, "language": "mixed"}) for r in records
    ]
    new_corpus = write_corpus(tmp_path / "zh", records)
    ft = tmp_path / "ft"
    train(config(overrides(new_corpus, ft, 2) + [f"init_from={out / 'checkpoints' / 'last.ckpt'}"]))
    tuned = load_dit(ft / "checkpoints" / "last.ckpt")
    assert tuned.vocab_symbols[: len(pre.vocab_symbols)] == pre.vocab_symbols
    assert {"ni2", "hao3", "shi4", "jie4"} <= set(tuned.vocab_symbols[len(pre.vocab_symbols):])
    assert tuned.model.text_encoder.embed.weight.shape[0] == len(tuned.vocab_symbols) + 1


def test_nonfinite_loss_is_caught_at_the_logging_interval_and_names_the_clips(corpus, tmp_path):
    out = tmp_path / "nan"
    args = overrides(corpus, out, 6, every=100) + ["trainer.log_every_n_steps=3"]
    trainer, module, datamodule, _ = build(config(args))
    with torch.no_grad():
        module.net.audio_in.proj.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"at step 0 .*after step 2 covering steps 0\.\.2.*clip") as err:
        trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == 3, "the check runs once per logging interval, not at the end of the run"
    assert "clip0" in str(err.value).split("clips in that batch:")[1], "the offending batch's clip ids are named"


def test_nonfinite_loss_never_reaches_a_checkpoint(corpus, tmp_path):
    out = tmp_path / "nan_ckpt"
    args = overrides(corpus, out, 4, every=2) + ["trainer.log_every_n_steps=1000"]  # only the save-time check
    trainer, module, datamodule, _ = build(config(args))
    with torch.no_grad():
        module.net.audio_in.proj.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="before saving the checkpoint of step 2"):
        trainer.fit(module, datamodule=datamodule)
    assert not list(out.rglob("*.ckpt")), "a checkpoint with NaN weights was written"


def test_lr_schedule_warmup_then_decay():
    cfg = OptimConfig(warmup_steps=10, total_steps=110, decay="cosine", min_lr_ratio=0.1)
    factors = [lr_factor(s, cfg) for s in range(120)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(factors[:10], factors[1:10]))
    assert factors[60] == pytest.approx(0.55) and factors[110] == pytest.approx(0.1) and factors[119] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="decay"):
        OptimConfig(decay="exp")


def test_smoke_experiment_learns_on_the_synthetic_corpus(synthetic_tiny, tmp_path):
    """A shortened `experiment=smoke` on the generated synthetic corpus: the loss falls."""
    import csv

    out, _ = synthetic_tiny
    args = ["experiment=smoke", "model=tiny", f"data.corpus={out / 'corpus'}", f"paths.output_dir={tmp_path}",
            "data.num_workers=0", "data.max_frames=1500", "trainer.max_steps=60", "trainer.log_every_n_steps=1",
            "callbacks.sample_logger.every_n_steps=60", "callbacks.model_checkpoint.every_n_train_steps=60",
            "model.optim.lr=3e-3", "model.optim.warmup_steps=5", "trainer.enable_progress_bar=false"]
    train(config(args))
    rows = list(csv.DictReader(open(tmp_path / "csv" / "metrics.csv")))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    print(f"smoke on synthetic corpus: loss {first:.3f} -> {last:.3f}")
    assert last < 0.75 * first
    assert (tmp_path / "samples" / "step_00000060.png").exists() and (tmp_path / "samples" / "step_00000060.wav").exists()
    assert load_dit(tmp_path / "checkpoints" / "last.ckpt").weights == "ema"


def test_paper_recipe_configs_compose():
    cfg = config(["experiment=pretrain", "data.corpus=/data/corpus", "paths.output_dir=/tmp/x"])
    assert cfg.model.arch.fusion_depth == 22 and cfg.model.arch.dim == 1024 and cfg.model.optim.lr == 1e-4
    assert cfg.trainer.max_steps == 750_000 and cfg.trainer.devices == 8 and cfg.trainer.strategy == "ddp"
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.gradient_clip_val == 1.0
    assert cfg.data.max_frames == 12_800 and cfg.trainer.use_distributed_sampler is False
    assert cfg.model.objective.drop_text == cfg.model.objective.drop_audio == cfg.model.objective.drop_visual == 0.2
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        ft = compose("finetune", overrides=["init_from=/x.ckpt", "data.corpus=/data/c", "paths.output_dir=/tmp/x"])
    assert ft.task_name == "finetune" and ft.model.optim.lr == 2e-5 and ft.data.pairing == "same_video"
