"""Write the generated talking-head video: one H.264 (libx264, yuv420p) stream + one AAC stream, 24 kHz mono.

Frames come as a (T, H, W, 3) uint8 array or any iterable of (H, W, 3) uint8 frames (so a long video never has to
sit in memory); audio is a float waveform in [-1, 1]. The audio is encoded in step with the frames and padded with
silence / trimmed to exactly T / fps seconds, so both streams end together. Writing is atomic: everything goes to
temporary files in the destination directory, which replace the targets only after all succeeded; on any error
nothing is left behind. Optionally the wav (soundfile, PCM 16) and the visual codes (npz) are written alongside.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from omnitalker.constants import DEFAULT_OUTPUT_FPS, SAMPLE_RATE
from omnitalker.inference.errors import MediaArrayError


@dataclass(frozen=True)
class MuxResult:
    path: Path
    num_frames: int
    fps: float
    audio_samples: int  # samples written (= round(num_frames / fps * sample_rate))
    sample_rate: int
    width: int
    height: int
    wav_path: Path | None = None
    codes_path: Path | None = None

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _as_audio(audio: np.ndarray | torch.Tensor | None) -> np.ndarray:
    if audio is None:
        return np.zeros(0, np.float32)
    array = audio.detach().cpu().float().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    array = np.squeeze(array)
    if array.ndim != 1:
        raise MediaArrayError(f"audio must be mono (samples,), got shape {np.shape(audio)}")
    if not np.issubdtype(array.dtype, np.floating):
        raise MediaArrayError(f"audio must be float in [-1, 1], got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise MediaArrayError("audio contains NaN or infinite samples")
    return np.clip(array, -1.0, 1.0).astype(np.float32)


def _checked_frames(frames: np.ndarray | Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        if isinstance(frame, torch.Tensor):
            frame = frame.detach().cpu().numpy()
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise MediaArrayError(f"frame {i} must be (H, W, 3) uint8 RGB, got shape {frame.shape} dtype {frame.dtype}")
        yield np.ascontiguousarray(frame)


def _temp_beside(target: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    return Path(name)


def _encode_mp4(
    path: Path,
    frames: Iterable[np.ndarray],
    audio: np.ndarray,
    fps: float,
    sample_rate: int,
    crf: float,
    preset: str,
    audio_bitrate: int,
) -> tuple[int, int, int, int]:
    """Encode into `path`; returns (num_frames, audio_samples, width, height)."""
    import av

    rate = Fraction(fps).limit_denominator(1001)
    container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        video = audio_stream = None
        sent = 0  # audio samples handed to the encoder
        count = 0
        width = height = 0
        for frame in _checked_frames(frames):
            if video is None:
                height, width = frame.shape[:2]
                if width % 2 or height % 2:
                    raise MediaArrayError(f"frame size {width}x{height} must be even for yuv420p H.264")
                video = container.add_stream("libx264", rate=rate)
                video.width, video.height, video.pix_fmt = width, height, "yuv420p"
                video.options = {"crf": f"{crf:g}", "preset": preset}
                audio_stream = container.add_stream("aac", rate=sample_rate, layout="mono")
                audio_stream.bit_rate = audio_bitrate
            elif frame.shape[:2] != (height, width):
                raise MediaArrayError(
                    f"frame {count} is {frame.shape[1]}x{frame.shape[0]}, earlier ones {width}x{height}"
                )
            av_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            av_frame.pts = count
            av_frame.time_base = 1 / rate
            container.mux(video.encode(av_frame))
            count += 1
            # Audio up to the end of this frame, zero-padded past the end of the waveform.
            until = round(count / rate * sample_rate)
            piece = audio[sent:until]
            if piece.shape[0] < until - sent:
                piece = np.pad(piece, (0, until - sent - piece.shape[0]))
            if piece.shape[0]:
                a_frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="fltp", layout="mono")
                a_frame.sample_rate = sample_rate
                a_frame.pts = sent
                a_frame.time_base = Fraction(1, sample_rate)
                container.mux(audio_stream.encode(a_frame))
                sent = until
        if video is None:
            raise MediaArrayError("no frames to write")
        container.mux(video.encode(None))
        container.mux(audio_stream.encode(None))
    finally:
        container.close()
    return count, sent, width, height


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    audio: np.ndarray | torch.Tensor | None,
    *,
    fps: float = DEFAULT_OUTPUT_FPS,
    sample_rate: int = SAMPLE_RATE,
    crf: float = 18,
    preset: str = "medium",
    audio_bitrate: int = 128_000,
    wav_path: str | Path | None = None,
    codes: np.ndarray | torch.Tensor | None = None,
    codes_path: str | Path | None = None,
    codes_fps: float | None = None,
) -> MuxResult:
    """Atomically write an mp4 (and optionally the wav and an npz of `codes`). See the module docstring.

    `audio=None` writes a silent track. Raises MediaArrayError for bad frames/audio (wrong shape/dtype, odd size,
    no frames); nothing is left behind on any error.
    """
    import soundfile as sf

    path = Path(path)
    if not fps > 0:
        raise MediaArrayError(f"fps must be > 0, got {fps}")
    if (codes is None) != (codes_path is None):
        raise ValueError("give both codes and codes_path, or neither")
    samples = _as_audio(audio)
    targets: list[tuple[Path, Path]] = []  # (temp, final)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = _temp_beside(path, ".mp4")
        targets.append((temp, path))
        num_frames, written, width, height = _encode_mp4(
            temp, frames, samples, fps, sample_rate, crf, preset, audio_bitrate
        )
        if wav_path is not None:
            wav_path = Path(wav_path)
            wav_path.parent.mkdir(parents=True, exist_ok=True)
            temp_wav = _temp_beside(wav_path, ".wav")
            targets.append((temp_wav, wav_path))
            track = np.pad(samples[:written], (0, max(0, written - samples.shape[0])))
            sf.write(str(temp_wav), track, sample_rate, subtype="PCM_16", format="WAV")
        if codes_path is not None:
            codes_path = Path(codes_path)
            codes_path.parent.mkdir(parents=True, exist_ok=True)
            array = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
            temp_npz = _temp_beside(codes_path, ".npz")
            targets.append((temp_npz, codes_path))
            with open(temp_npz, "wb") as handle:
                np.savez(handle, codes=array.astype(np.float32), fps=np.float64(codes_fps or fps))
        for temp_file, final in targets:
            os.replace(temp_file, final)
        targets.clear()
    finally:
        for temp_file, _ in targets:
            temp_file.unlink(missing_ok=True)
    return MuxResult(
        path=path,
        num_frames=num_frames,
        fps=float(fps),
        audio_samples=written,
        sample_rate=sample_rate,
        width=width,
        height=height,
        wav_path=Path(wav_path) if wav_path is not None else None,
        codes_path=Path(codes_path) if codes_path is not None else None,
    )
