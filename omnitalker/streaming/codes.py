"""Visual codes on their way from the DiT to the renderer, chunk by chunk.

`CodesHook`: the one place where generated codes are post-processed before rendering (expression controls, blinks,
...): a callable ``hook(codes (n, 61) at the mel rate, chunk) -> codes (n, 61)``, applied in order to each chunk after
the seam join. A hook may keep state across chunks (it is called once per chunk, in order).

`VideoRateCursor`: mel-rate codes in, video-rate codes out, incrementally; the frames equal
`codes_to_video_rate` over the whole track (same instants, same interpolation; the edge rules apply only at the real
start and, once ``final``, the real end).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch

from omnitalker.constants import MEL_FPS
from omnitalker.data.resample import MEL_PHASE, VIDEO_PHASE, frame_times, resample_codes


class ChunkInfo(Protocol):
    index: int  # chunk number
    start: int  # mel frame (absolute) where the chunk starts
    text: str
    last: bool


CodesHook = Callable[[torch.Tensor, ChunkInfo], torch.Tensor]


def apply_codes_hooks(codes: torch.Tensor, chunk: ChunkInfo, hooks: list[CodesHook] | tuple[CodesHook, ...]
                      ) -> torch.Tensor:
    """(n, 61) -> (n, 61): the hooks in order; each must keep the shape (the audio of the chunk has n mel frames)."""
    for hook in hooks:
        out = hook(codes, chunk)
        if not isinstance(out, torch.Tensor) or out.shape != codes.shape:
            raise ValueError(f"codes hook {hook!r} must return a tensor of shape {tuple(codes.shape)}, got "
                             f"{getattr(out, 'shape', type(out).__name__)}")
        codes = out
    return codes


class VideoRateCursor:
    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._codes: torch.Tensor | None = None  # (m, 61) mel-rate codes from absolute frame _start on
        self._start = 0
        self.total = 0  # mel-rate frames pushed

    def push(self, codes: torch.Tensor) -> None:
        codes = codes.detach().float().cpu()  # (n, 61)
        self._codes = codes if self._codes is None else torch.cat([self._codes, codes])
        self.total += codes.shape[0]

    def take(self, first: int, count: int, final: bool = False) -> torch.Tensor:
        """Codes (count, 61) of video frames ``first .. first + count - 1``; every frame needs the mel-rate frames
        around its instant (all of them once ``final``)."""
        if self._codes is None or count < 1:
            raise ValueError("no codes pushed yet" if self._codes is None else f"count must be >= 1, got {count}")
        position = frame_times(count, self.fps, VIDEO_PHASE + first) * MEL_FPS - MEL_PHASE  # (count,) absolute
        needed = int(np.floor(position[-1])) + 2
        if not final and needed > self.total:
            raise ValueError(f"video frame {first + count - 1} needs mel-rate code {needed - 1}, only {self.total} "
                             "pushed (pass final=True at the end)")
        w0 = max(self._start, min(int(np.floor(position[0])) - 1, self.total - 2))  # >= 2 frames: edge rule intact
        w0 = max(w0, 0)
        window = self._codes[w0 - self._start :]  # (m', 61)
        out = resample_codes(window, MEL_FPS, self.fps, count, src_phase=MEL_PHASE + w0,
                             dst_phase=VIDEO_PHASE + first)  # (count, 61)
        self._codes, self._start = window, w0  # later frames start later: what is before w0 is not needed again
        return out
