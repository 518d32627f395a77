"""A non-finite loss watch that stays on the device between checks.

Testing ``torch.isfinite(loss)`` on the host every step drains the accelerator's queue every step. Instead each step
folds its loss into a device-side record of the *first* non-finite step since the last check (no read-back), and
the host reads that record once per check — every logging interval and before every checkpoint save, so a NaN never
reaches a saved checkpoint. The clips of the batches since the last check are kept on the host (they are Python
lists already), so the error still names the step and the clips of the offending batch.
"""

from __future__ import annotations

from typing import Any

import torch


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/inf; the message names the step, the steps since the last check and the offending clips."""


class NonFiniteWatch:
    def __init__(self) -> None:
        self._first: torch.Tensor | None = None  # () long: first non-finite step since the last check, -1 = none
        self._values: torch.Tensor | None = None  # (1 + parts,) loss and parts of that step
        self._names: list[str] = []
        self._clips: dict[int, Any] = {}  # step -> clip ids of its batch, for the steps since the last check

    def observe(self, step: int, loss: torch.Tensor, parts: dict[str, torch.Tensor], clip_ids: Any) -> None:
        """Record one step's loss without reading it back."""
        values = torch.stack([loss.detach().float(), *(v.detach().float() for v in parts.values())])  # (1 + parts,)
        if self._first is None:
            self._first = torch.full((), -1, dtype=torch.long, device=loss.device)
            self._values = torch.zeros_like(values)
            self._names = list(parts)
        new = ~torch.isfinite(loss.detach()) & (self._first < 0)  # () bool
        self._first = torch.where(new, step, self._first)  # ()
        self._values = torch.where(new, values, self._values)  # (1 + parts,)
        self._clips[step] = clip_ids

    def check(self, when: str) -> None:
        """Raise :class:`NonFiniteLossError` if any step since the last check had a non-finite loss (one read-back)."""
        if self._first is None:
            return
        first = int(self._first)
        if first >= 0:
            values = self._values.tolist()
            parts = {name: value for name, value in zip(self._names, values[1:])}
            steps = sorted(self._clips)
            raise NonFiniteLossError(
                f"non-finite loss {values[0]} at step {first} (parts: {parts}), found at the check {when} covering "
                f"steps {steps[0]}..{steps[-1]}; clips in that batch: {self._clips.get(first)}; clips of the (up to 8) "
                f"later batches: {[self._clips[s] for s in steps if s > first][:8]}"
            )
        self._clips.clear()

    def reset(self) -> None:
        self.__init__()
