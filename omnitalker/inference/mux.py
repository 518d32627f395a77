"""Write the generated talking-head video: one H.264 (libx264, yuv420p) stream + one AAC stream, 24 kHz mono.

Frames come as a (T, H, W, 3) uint8 array or any iterable of (H, W, 3) uint8 frames (so a long video never has to
sit in memory); audio is a float waveform in [-1, 1]. The audio is encoded in step with the frames and padded with
silence / trimmed to exactly T / fps seconds, so both streams end together. `write_pieces` takes the video in pieces
as they are made (streaming), optionally as a fragmented mp4 that plays while it grows (also to a pipe). Writing a
regular mp4 is atomic: everything goes to
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
from typing import BinaryIO

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
    if array.ndim > 1 and sum(d > 1 for d in array.shape) <= 1:
        array = array.reshape(-1)  # (1, S) / (S, 1) -> (S,); a 1-sample piece stays (1,)
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


FRAGMENTED_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


class Mp4Writer:
    """Incremental H.264 + AAC mp4 writer: :meth:`write` frames and audio as they are made, :meth:`close` at the end.

    Audio is encoded in step with the frames (up to the end of each frame as far as it has arrived) and padded with
    silence / trimmed to exactly ``num_frames / fps`` at :meth:`close`. ``fragmented=True`` writes a fragmented mp4
    (empty moov, a fragment per keyframe, every packet flushed to the file at once) that is valid and playable while
    it grows and needs no seeking, so ``target`` may be a pipe (stdout); ``write(..., flush=True)`` forces a keyframe
    on the second-to-last frame written, so everything up to there is on disk when it returns (the muxer keeps one
    packet queued). Otherwise a regular mp4 with the index up front (faststart).
    """

    def __init__(self, target, *, fps: float = DEFAULT_OUTPUT_FPS, sample_rate: int = SAMPLE_RATE, crf: float = 18,
                 preset: str = "medium", audio_bitrate: int = 128_000, fragmented: bool = False) -> None:
        import av

        if not fps > 0:
            raise MediaArrayError(f"fps must be > 0, got {fps}")
        self.rate = Fraction(fps).limit_denominator(1001)
        self.sample_rate, self.crf, self.preset, self.audio_bitrate = sample_rate, crf, preset, audio_bitrate
        self.fragmented = fragmented
        options = ({"movflags": FRAGMENTED_MOVFLAGS, "max_interleave_delta": "1", "fflags": "+flush_packets"}
                   if fragmented else {"movflags": "+faststart"})
        self.container = av.open(target if not isinstance(target, Path) else str(target), mode="w", format="mp4",
                                 options=options)
        self.video = self.audio_stream = None
        self.num_frames = self.sent = self.width = self.height = 0  # sent: audio samples handed to the encoder
        self._audio = np.zeros(0, np.float32)  # received audio not yet encoded

    def _open_streams(self, height: int, width: int) -> None:
        if width % 2 or height % 2:
            raise MediaArrayError(f"frame size {width}x{height} must be even for yuv420p H.264")
        self.height, self.width = height, width
        self.video = self.container.add_stream("libx264", rate=self.rate)
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        self.video.options = {"crf": f"{self.crf:g}", "preset": self.preset,
                              **({"tune": "zerolatency"} if self.fragmented else {})}
        self.audio_stream = self.container.add_stream("aac", rate=self.sample_rate, layout="mono")
        self.audio_stream.bit_rate = self.audio_bitrate

    def _encode_audio(self, until: int, pad: bool) -> None:
        """Hand the encoder audio up to absolute sample ``until`` (zero-padded past what has arrived if ``pad``)."""
        import av

        piece = self._audio[: max(0, until - self.sent)]
        if pad and piece.shape[0] < until - self.sent:
            piece = np.pad(piece, (0, until - self.sent - piece.shape[0]))
        if not piece.shape[0]:
            return
        a_frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="fltp", layout="mono")
        a_frame.sample_rate = self.sample_rate
        a_frame.pts = self.sent
        a_frame.time_base = Fraction(1, self.sample_rate)
        self.container.mux(self.audio_stream.encode(a_frame))
        self._audio = self._audio[piece.shape[0]:]
        self.sent += piece.shape[0]

    def write(self, frames: np.ndarray | Iterable[np.ndarray], audio: np.ndarray | torch.Tensor | None = None,
              flush: bool = False) -> None:
        """Append (T, H, W, 3) uint8 frames (or an iterable of (H, W, 3)) and the audio (float, [-1, 1]) that
        continues the audio given so far; the audio may run ahead of the frames or lag behind them."""
        import av

        self._audio = np.concatenate([self._audio, _as_audio(audio)])
        frames = list(_checked_frames(frames)) if flush else _checked_frames(frames)
        for i, frame in enumerate(frames):
            if self.video is None:
                self._open_streams(*frame.shape[:2])
            elif frame.shape[:2] != (self.height, self.width):
                raise MediaArrayError(f"frame {self.num_frames} is {frame.shape[1]}x{frame.shape[0]}, earlier ones "
                                      f"{self.width}x{self.height}")
            av_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            av_frame.pts = self.num_frames
            av_frame.time_base = 1 / self.rate
            if flush and i == max(0, len(frames) - 2):  # the muxer emits a fragment when a keyframe arrives
                av_frame.pict_type = av.video.frame.PictureType.I
            self.container.mux(self.video.encode(av_frame))
            self.num_frames += 1
            self._encode_audio(round(self.num_frames / self.rate * self.sample_rate), pad=False)

    def close(self) -> tuple[int, int, int, int]:
        """Finish the file: pad/trim the audio to the frames, flush the encoders. Returns (num_frames,
        audio_samples, width, height)."""
        try:
            if self.video is None:
                raise MediaArrayError("no frames to write")
            self._encode_audio(round(self.num_frames / self.rate * self.sample_rate), pad=True)
            self.container.mux(self.video.encode(None))
            self.container.mux(self.audio_stream.encode(None))
        finally:
            self.container.close()
        return self.num_frames, self.sent, self.width, self.height

    def abort(self) -> None:
        """Close without finishing (after an error)."""
        self.container.close()


@dataclass
class MuxPiece:
    """A span of output for :func:`write_pieces`: frames, the audio that continues the previous piece's audio, and
    optionally the frames' codes (for ``codes_path``)."""

    frames: np.ndarray | Iterable[np.ndarray]  # (T, H, W, 3) uint8 or an iterable of (H, W, 3)
    audio: np.ndarray | torch.Tensor | None = None  # (S,) float in [-1, 1]
    codes: np.ndarray | torch.Tensor | None = None  # (T, D)
    flush: bool = False  # fragmented output: have everything so far on disk after this piece


def write_pieces(
    target: str | Path | BinaryIO,
    pieces: Iterable[MuxPiece],
    *,
    fps: float = DEFAULT_OUTPUT_FPS,
    sample_rate: int = SAMPLE_RATE,
    crf: float = 18,
    preset: str = "medium",
    audio_bitrate: int = 128_000,
    fragmented: bool = False,
    wav_path: str | Path | None = None,
    codes_path: str | Path | None = None,
    codes_fps: float | None = None,
) -> MuxResult:
    """Write pieces of video as they come (see `Mp4Writer`); also the wav and an npz of the pieces' codes if asked.

    ``target``: a path, or a binary file object (e.g. ``sys.stdout.buffer``; needs ``fragmented=True`` unless it can
    seek). A regular mp4 is written to a temporary file that replaces the target at the end; a fragmented one is
    written in place so it can be played while it grows. On any error no file is left behind (a file object gets
    whatever was written).
    """
    import soundfile as sf

    if not fps > 0:
        raise MediaArrayError(f"fps must be > 0, got {fps}")
    is_path = isinstance(target, (str, Path))
    path = Path(target) if is_path else None
    targets: list[tuple[Path, Path]] = []  # (temp, final)
    waves: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    writer = None
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path if fragmented else _temp_beside(path, ".mp4")
            targets.append((temp, path))
        writer = Mp4Writer(targets[0][0] if path is not None else target, fps=fps, sample_rate=sample_rate, crf=crf,
                           preset=preset, audio_bitrate=audio_bitrate, fragmented=fragmented)
        for piece in pieces:
            audio = _as_audio(piece.audio)
            writer.write(piece.frames, audio, flush=piece.flush)
            if wav_path is not None:
                waves.append(audio)
            if codes_path is not None:
                if piece.codes is None:
                    raise ValueError("codes_path needs the codes of every piece")
                array = piece.codes.detach().cpu().numpy() if isinstance(piece.codes, torch.Tensor) else piece.codes
                codes.append(np.asarray(array, np.float32))
        num_frames, written, width, height = writer.close()
        writer = None
        if wav_path is not None:
            wav_path = Path(wav_path)
            wav_path.parent.mkdir(parents=True, exist_ok=True)
            temp_wav = _temp_beside(wav_path, ".wav")
            targets.append((temp_wav, wav_path))
            samples = np.concatenate(waves) if waves else np.zeros(0, np.float32)
            track = np.pad(samples[:written], (0, max(0, written - samples.shape[0])))
            sf.write(str(temp_wav), track, sample_rate, subtype="PCM_16", format="WAV")
        if codes_path is not None:
            codes_path = Path(codes_path)
            codes_path.parent.mkdir(parents=True, exist_ok=True)
            temp_npz = _temp_beside(codes_path, ".npz")
            targets.append((temp_npz, codes_path))
            with open(temp_npz, "wb") as handle:
                np.savez(handle, codes=np.concatenate(codes), fps=np.float64(codes_fps or fps))
        for temp_file, final in targets:
            if temp_file != final:
                os.replace(temp_file, final)
        targets.clear()
    finally:
        if writer is not None:
            writer.abort()
        for temp_file, _ in targets:
            temp_file.unlink(missing_ok=True)
    return MuxResult(path=path if path is not None else Path("-"), num_frames=num_frames, fps=float(fps),
                     audio_samples=written, sample_rate=sample_rate, width=width, height=height,
                     wav_path=Path(wav_path) if wav_path is not None else None,
                     codes_path=Path(codes_path) if codes_path is not None else None)


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
    if (codes is None) != (codes_path is None):
        raise ValueError("give both codes and codes_path, or neither")
    samples = _as_audio(audio)  # checked before any file is touched
    return write_pieces(path, [MuxPiece(frames, samples, codes)], fps=fps, sample_rate=sample_rate, crf=crf,
                        preset=preset, audio_bitrate=audio_bitrate, wav_path=wav_path, codes_path=codes_path,
                        codes_fps=codes_fps)
