"""Fine segmentation: transcript segments inside one shot are grouped into candidate clips (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

from data_prep.asr import Segment


@dataclass
class Candidate:
    start: float  # seconds
    end: float
    text: str
    shot: int

    @property
    def duration(self) -> float:
        return self.end - self.start


def group_segments(
    segments: list[Segment], shots_s: list[tuple[float, float]], max_duration: float, max_pause: float, pad: float,
) -> tuple[list[Candidate], list[tuple[Segment, str]]]:
    """Group consecutive transcript segments of the same shot into clips no longer than `max_duration`.

    shots_s: (start, end) seconds per shot. A segment belongs to the shot containing its midpoint and is clipped
    to it. Returns (candidates, dropped) where dropped lists (segment, reason) for segments that cannot form a clip.
    """
    candidates: list[Candidate] = []
    dropped: list[tuple[Segment, str]] = []
    for k, (a, b) in enumerate(shots_s):
        inside = [s for s in segments if a <= 0.5 * (s.start + s.end) < b and s.text.strip()]
        group: list[Segment] = []

        def flush() -> None:
            if group:
                start = max(a, group[0].start - pad)
                end = min(b, group[-1].end + pad)
                candidates.append(Candidate(start, end, " ".join(s.text.strip() for s in group), k))
                group.clear()

        for seg in sorted(inside, key=lambda s: s.start):
            seg = Segment(max(seg.start, a), min(seg.end, b), seg.text)
            if seg.end - seg.start > max_duration:
                flush()
                dropped.append((seg, "segment_too_long"))
                continue
            if group and (seg.start - group[-1].end > max_pause or seg.end - group[0].start + 2 * pad > max_duration):
                flush()
            group.append(seg)
        flush()
    return candidates, dropped
