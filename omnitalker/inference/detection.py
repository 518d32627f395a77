"""Result of a watermark detection (shared by the audio and video detectors)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DetectionResult:
    modality: str  # "audio" | "video"
    found: bool
    score: float  # z-score: ~N(0, 1) (audio: max over lags of such) on content without this key's watermark
    threshold: float
    units: int  # frames (video) or blocks (audio) the score is computed over
    note: str = ""

    def summary(self) -> str:
        verdict = "found" if self.found else "not found"
        text = f"{self.modality}: {verdict} (score {self.score:.2f}, threshold {self.threshold:.2f}, {self.units} "
        text += "frames)" if self.modality == "video" else "blocks)"
        return text + (f" - {self.note}" if self.note else "")

    def to_dict(self) -> dict:
        return asdict(self)
