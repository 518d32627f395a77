"""Generator-step bookkeeping shared by the GAN trainers (renderer, vocoder).

With manual optimisation Lightning's ``global_step`` counts every optimiser step (G and D), so the trainers count
generator steps themselves, store the count in the checkpoint and restore it on resume; a checkpoint written before
the counter existed gets it back from ``global_step`` (``generator_steps_from_global``, defined by each trainer).
"""

from __future__ import annotations

from typing import Any


class GeneratorStepCounter:
    """Mixin for a LightningModule that sets ``self._g_steps = 0`` in ``__init__`` and increments it per G step."""

    _g_steps: int
    _g_steps_restored: bool = False

    def generator_steps_from_global(self, global_step: int) -> int:  # pragma: no cover - each trainer defines it
        raise TypeError(f"{type(self).__name__} must define generator_steps_from_global")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["generator_steps"] = self._g_steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        steps = checkpoint.get("generator_steps")
        self._g_steps = int(steps) if steps is not None else self.generator_steps_from_global(checkpoint["global_step"])
        self._g_steps_restored = True

    def on_fit_start(self) -> None:
        # a resumed run continues the generator-step count of its checkpoint; a fresh fit starts from global_step 0
        if not self._g_steps_restored:
            self._g_steps = self.generator_steps_from_global(self.global_step)
        self._g_steps_restored = False
