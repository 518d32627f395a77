"""Lightning checkpoint IO: checkpoints hold only tensors and plain data, are written atomically (temp file + rename)
and are read with ``weights_only=True`` — Lightning's own resume path (``trainer.fit(ckpt_path=...)``) loads through
this plugin, so resuming from a crafted file cannot run code either."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from omnitalker.checkpoint import safe_torch_load
from omnitalker.safe_io import plain_data


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        checkpoint = plain_data(checkpoint)  # hparams (AttributeDict), OmegaConf configs, ... -> plain containers
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
                        ) -> dict[str, Any]:
        """Always ``weights_only=True`` whatever the caller asks; errors are one-line ``CheckpointError`` s."""
        return safe_torch_load(path)
