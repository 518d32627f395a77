"""Builds and runs a training job from a resolved Hydra config (used by scripts/train.py and scripts/finetune.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from omnitalker.checkpoint import load_dit, read_checkpoint
from omnitalker.text import Vocab
from omnitalker.training.checkpoint_io import AtomicCheckpointIO
from omnitalker.training.datamodule import CorpusDataModule
from omnitalker.training.module import OmniTalkerModule
from omnitalker.training.run_utils import check_face_model, corpus_face_model, instantiate_all, resolve_resume

log = logging.getLogger(__name__)


def extend_text_embedding(weights: dict[str, torch.Tensor], new_rows: int) -> dict[str, torch.Tensor]:
    """Appends ``new_rows`` rows (initialised at the mean embedding) for symbols a fine-tuning corpus adds."""
    key = "text_encoder.embed.weight"
    old = weights[key]  # (vocab_old + 1, text_dim)
    if new_rows > 0:
        weights = dict(weights)
        weights[key] = torch.cat([old, old[1:].mean(0, keepdim=True).expand(new_rows, -1).clone()], dim=0)
    return weights


def build(cfg: DictConfig) -> tuple[L.Trainer, OmniTalkerModule, CorpusDataModule, Path | None]:
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True)
    data_kwargs = OmegaConf.to_container(cfg.data, resolve=True)
    datamodule = CorpusDataModule(**data_kwargs, seed=cfg.seed)
    resume = resolve_resume(cfg.get("ckpt_path"), output_dir)
    arch = OmegaConf.to_container(cfg.model.arch, resolve=True)
    init_weights = None
    face_model = corpus_face_model(datamodule.reader.roots)

    if resume is not None:  # the resumed run keeps its own vocabulary, statistics and architecture
        meta = read_checkpoint(resume)["omnitalker"]
        check_face_model(meta.get("face_model"), face_model, f"the checkpoint {resume}")
        datamodule.vocab = Vocab(meta["vocab"])
        datamodule.prepare_normalizer(meta["normalizer"])
        arch = meta["arch"]
        log.info("resuming from %s", resume)
    elif cfg.get("init_from"):
        pretrained = load_dit(cfg.init_from, prefer_ema=cfg.get("init_weights", "ema") == "ema")
        check_face_model(pretrained.face_model, face_model, f"init_from={cfg.init_from}")
        vocab = datamodule.prepare_vocab(base=Vocab(pretrained.vocab_symbols))
        datamodule.prepare_normalizer(pretrained.normalizer_state)
        arch = dict(pretrained.meta["arch"], **{k: v for k, v in arch.items() if k in ("dropout", "checkpoint_activations")})
        added = len(vocab) - len(pretrained.vocab_symbols)
        init_weights = extend_text_embedding(pretrained.model.state_dict(), added)
        log.info("fine-tuning from %s (%s weights, %d new symbols)", cfg.init_from, pretrained.weights, added)
    else:
        datamodule.prepare_vocab()
        datamodule.prepare_normalizer()

    datamodule.vocab.save(output_dir / "vocab.txt")
    datamodule.normalizer.save(output_dir / "code_stats.json")
    OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)

    module = OmniTalkerModule(
        arch=arch,
        objective=OmegaConf.to_container(cfg.model.objective, resolve=True),
        sampler=OmegaConf.to_container(cfg.model.sampler, resolve=True),
        optim=OmegaConf.to_container(cfg.model.optim, resolve=True),
        vocab_symbols=list(datamodule.vocab.symbols),
        normalizer_state=datamodule.normalizer.state_dict(),
        ema=OmegaConf.to_container(cfg.model.ema, resolve=True),
        seed=cfg.seed,
        run_config=OmegaConf.to_container(cfg, resolve=True),
        face_model=face_model,
        compile_net=bool(cfg.get("compile", False)),
        debug_checks=bool(cfg.get("debug_checks", False)),
    )
    if init_weights is not None:
        module.net.load_state_dict(init_weights)
        if module.use_ema:
            module.ema.ema_model.load_state_dict(init_weights)

    callbacks = instantiate_all(cfg.get("callbacks"))
    loggers = instantiate_all(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    return trainer, module, datamodule, resume


def train(cfg: DictConfig) -> dict[str, Any]:
    trainer, module, datamodule, resume = build(cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None, weights_only=True)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1}
    metrics["padding_fraction_plan"] = datamodule.padding_report().get("padding_fraction", float("nan"))
    return metrics
