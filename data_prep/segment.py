"""Fine segmentation: transcript segments inside one shot are grouped into candidate clips (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

from omnitalker.audio.asr import Segment


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
    segments: list[Segment],
    shots_s: list[tuple[float, float]],
    max_duration: float,
    max_pause: float,
    pad: float,
) -> tuple[list[Candidate], list[tuple[Segment, str]]]:
    """Group consecutive transcript segments of the same shot into clips no longer than `max_duration`.

    shots_s: (start, end) seconds per shot. A segment belongs to the shot containing its midpoint and is clipped
    to it. Returns (candidates, dropped) where dropped lists (segment, reason) for segments that cannot form a clip.
    """
    candidates: list[Candidate] = []
    dropped: list[tuple[Segment, str]] = []
    for k, (a, b) in enumerate(shots_s):
        inside = sorted(
            (s for s in segments if a <= 0.5 * (s.start + s.end) < b and s.text.strip()), key=lambda s: s.start
        )
        groups: list[list[Segment]] = [[]]
        for seg in inside:
            seg = Segment(max(seg.start, a), min(seg.end, b), seg.text)
            if seg.end - seg.start > max_duration:
                dropped.append((seg, "segment_too_long"))
                groups.append([])
                continue
            group = groups[-1]
            if group and (seg.start - group[-1].end > max_pause or seg.end - group[0].start + 2 * pad > max_duration):
                groups.append([])
            groups[-1].append(seg)
        for group in filter(None, groups):
            start, end = max(a, group[0].start - pad), min(b, group[-1].end + pad)
            candidates.append(Candidate(start, end, " ".join(s.text.strip() for s in group), k))
    return candidates, dropped
