"""The one rule that puts a video's frames and its audio samples on a common clock (data preparation AND inference).

- Clock origin: the video stream's start time (presentation time of its first frame). Frame k of the constant-rate
  grid is the instant ``video_start + k / fps``; audio sample n is ``n / sample_rate`` after the same origin.
- Audio: sample 0 of the decoded track sits at the presentation time of the first decoded audio frame
  (``audio_start``); `align_audio` pads (audio starts late) or trims (audio starts early) so that sample 0 is the
  clock origin. The first decoded frame's pts is used rather than the stream's start_time because the decoder has
  already applied the container's edit list and the codec priming there (checked on AAC-in-mp4 with 0/0.2/0.5 s
  audio delays: the onset lands within 0.3 ms of its true time).
- Frames: every decoded frame carries its own presentation time. `constant_rate` resamples by timestamp: grid
  instant k shows the decoded frame whose time is nearest (ties to the earlier frame), so a constant-frame-rate
  video comes out unchanged frame for frame, and a variable-frame-rate one is resampled to its average rate
  (frames repeated or dropped). A hole longer than `max_gap` seconds between two frames (a frozen or missing stretch
  of video under running audio) is rejected with `FrameTimingError` naming where it is: repeating one frame for that
  long would teach a still face under speech.
- A clip spans only the time both streams cover (`frames_covered`): timestamps can make the video a frame longer
  than its decode count (a dropped frame's slot is filled), and the audio may end first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

MAX_FRAME_GAP_S = 0.5  # longest hole between two decoded frames that is bridged by repeating a frame

T = TypeVar("T")


class FrameTimingError(ValueError):
    """The video's frame timestamps cannot be put on a constant-rate grid (the message says where and why)."""


def stream_start(stream) -> float:
    """Start time of a PyAV stream in seconds (0.0 when the container does not say)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def align_audio(audio: np.ndarray, audio_start: float, video_start: float, sample_rate: int) -> np.ndarray:
    """(samples,) audio whose sample 0 plays at `audio_start` s -> (samples',) whose sample 0 is `video_start`.

    Audio that starts after the video is padded with leading silence; audio that starts before it is trimmed."""
    shift = round((audio_start - video_start) * sample_rate)
    if shift > 0:
        return np.concatenate([np.zeros(shift, dtype=audio.dtype), audio])
    return audio[-shift:] if shift < 0 else audio


def frames_covered(num_samples: int, sample_rate: int, fps: float) -> int:
    """Number of whole grid frames that `num_samples` of aligned audio cover (clips end where either stream ends)."""
    return math.floor(num_samples / sample_rate * fps + 1e-6)


def constant_rate(
    timed: Iterable[tuple[float | None, T]], fps: float, start: float, *, max_gap: float = MAX_FRAME_GAP_S
) -> Iterator[T]:
    """(presentation time in s, item) in presentation order -> items on the grid ``start + k / fps``, k = 0, 1, ...

    Each grid instant gets the item whose time is nearest; the last item covers half a frame after its time. An item
    without a time is placed one frame after the previous one. Raises FrameTimingError for a hole > `max_gap`."""
    if not fps > 0:
        raise FrameTimingError(f"frame rate must be positive, got {fps}")
    period = 1.0 / fps
    k = 0  # next grid index to fill
    previous: tuple[float, T] | None = None
    for time, item in timed:
        if time is None:
            time = previous[0] + period if previous is not None else start
        if previous is not None:
            if time <= previous[0]:  # duplicate or out-of-order timestamp: keep the first frame at that time
                continue
            if time - previous[0] > max_gap:
                raise FrameTimingError(
                    f"variable frame rate: no video frame for {time - previous[0]:.2f} s after "
                    f"{previous[0] - start:.2f} s (more than {max_gap:g} s cannot be bridged by repeating a frame)"
                )
            boundary = (previous[0] + time) / 2  # grid instants before it are nearer to the previous frame
            while start + k * period <= boundary + 1e-9 * period:
                yield previous[1]
                k += 1
        previous = (time, item)
    if previous is not None:
        while start + k * period < previous[0] + period / 2 - 1e-9 * period:
            yield previous[1]
            k += 1
