"""Shot boundaries with PySceneDetect's ContentDetector (PyAV backend) -> [start_frame, end_frame) per shot."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from omnitalker.deps import require


def detect_shots(
    path: str | Path, num_frames: int, threshold: float = 27.0, min_shot_frames: int = 15
) -> list[tuple[int, int]]:
    """Shots of the video as frame ranges covering [0, num_frames); one shot when no cut is found."""
    scenedetect = require("scenedetect", "scenedetect", "shot detection")
    video = scenedetect.open_video(str(path), backend="pyav")
    manager = scenedetect.SceneManager()
    manager.add_detector(scenedetect.ContentDetector(threshold=threshold, min_scene_len=min_shot_frames))
    manager.detect_scenes(video=video, show_progress=False)
    scenes = manager.get_scene_list()
    if not scenes:
        return [(0, num_frames)]
    cuts = sorted({int(start.frame_num) for start, _ in scenes[1:]})
    bounds = [0, *[c for c in cuts if 0 < c < num_frames], num_frames]
    return [(a, b) for a, b in pairwise(bounds) if b > a]
