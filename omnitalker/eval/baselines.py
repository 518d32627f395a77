"""Reference points every metric is read against, scored by the same command as a model (``system=...``):

- ``ground_truth``: the generated clip is the target itself (what a perfect model would give);
- ``copy_reference``: the reference clip looped to the target's length (a model that copies its prompt);
- ``mean_motion``: the population-mean visual code of the test set's targets, held for the target's length (code
  metrics only; no frames unless a renderer draws them).
"""

from __future__ import annotations

import numpy as np

from omnitalker.eval.metric import Clip, MetricError

BASELINES = ("ground_truth", "copy_reference", "mean_motion")


def duration_of(clip: Clip) -> float:
    """Seconds covered by a clip (the longest of its streams)."""
    spans = [0.0]
    if clip.audio is not None and clip.sample_rate:
        spans.append(len(clip.audio) / clip.sample_rate)
    if clip.frames is not None and clip.fps:
        spans.append(clip.frames.shape[0] / clip.fps)
    if clip.codes is not None and (clip.codes_fps or clip.fps):
        spans.append(clip.codes.shape[0] / (clip.codes_fps or clip.fps))
    return max(spans)


def _loop(array: np.ndarray, length: int) -> np.ndarray:
    reps = -(-length // array.shape[0])
    return np.concatenate([array] * reps)[:length]


def copy_reference(reference: Clip, seconds: float, text: str) -> Clip:
    """The reference looped (audio, frames and codes alike) to ``seconds``."""
    if seconds <= 0:
        raise MetricError("copy_reference needs a target duration (the item has no ground truth)")
    out = Clip(sample_rate=reference.sample_rate, fps=reference.fps, codes_fps=reference.codes_fps, text=text)
    if reference.audio is not None and len(reference.audio):
        out.audio = _loop(reference.audio, max(1, round(seconds * reference.sample_rate)))
    if reference.frames is not None:
        out.frames = _loop(reference.frames, max(1, round(seconds * reference.fps)))
    if reference.codes is not None:
        out.codes = _loop(reference.codes, max(2, round(seconds * (reference.codes_fps or reference.fps))))
    return out


def mean_motion(mean_code: np.ndarray, seconds: float, fps: float, text: str) -> Clip:
    """A clip whose codes are ``mean_code`` (61,) at every frame for ``seconds`` (no frames, no audio)."""
    if seconds <= 0 or fps <= 0:
        raise MetricError("mean_motion needs a target duration and frame rate (the item has no ground truth)")
    frames = max(2, round(seconds * fps))
    return Clip(codes=np.repeat(np.asarray(mean_code, np.float32)[None], frames, axis=0), codes_fps=fps, text=text)


def population_mean(codes: list[np.ndarray]) -> np.ndarray:
    """Mean visual code over every frame of every clip: (61,)."""
    if not codes:
        raise MetricError("mean_motion: no target codes in the test set to average")
    return np.concatenate(codes).mean(axis=0).astype(np.float32)


def render_codes(renderer, reference: Clip, clip: Clip, batch_size: int = 16) -> Clip:
    """Draw ``clip.codes`` with a loaded renderer, the identity taken from the reference's most neutral frame (the
    pipeline's rule). The reference must be a square face crop (test sets built from a corpus are)."""
    import torch

    from omnitalker.inference.identity import identity_frame_index
    from omnitalker.render.source import prepare_source_image

    if reference.frames is None or reference.codes is None:
        raise MetricError("rendering a baseline needs the reference's frames and codes (ref_codes)")
    ref_fps = reference.codes_fps or reference.fps
    idx = identity_frame_index(reference.codes)
    frame = reference.frames[min(round(idx / ref_fps * reference.fps), reference.frames.shape[0] - 1)]
    try:
        source = prepare_source_image(frame, renderer.cfg.input_size)  # (1, 3, S, S)
    except ValueError as exc:
        raise MetricError(f"cannot render the baseline: {exc}") from exc
    device = next(renderer.parameters()).device
    with torch.no_grad():
        frames = renderer.animate(source.to(device), torch.from_numpy(reference.codes[idx]).float().to(device),
                                  torch.from_numpy(clip.codes).float().to(device), batch_size, progress=False)
    video = (frames.clamp(0, 1).permute(0, 2, 3, 1) * 255).round().to(torch.uint8).cpu().numpy()  # (T, S, S, 3)
    return Clip(frames=video, fps=clip.codes_fps, codes=clip.codes, codes_fps=clip.codes_fps, text=clip.text)
