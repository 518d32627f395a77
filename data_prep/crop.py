"""512x512 face-crop mp4 (h264, in memory) of a clip, using the clip's weak-perspective references (see
`omnitalker.face.face_model.crop_box`): the renderer's keypoints and these pixels share one frame."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np

from omnitalker.face.face_model import crop_box
from omnitalker.face.video import iter_frames


def _crop_square(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """Square crop; parts outside the frame are filled by edge replication."""
    h, w = frame.shape[:2]
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + side - w), max(0, y0 + side - h)
    region = frame[max(0, y0) : min(h, y0 + side), max(0, x0) : min(w, x0 + side)]
    if pad_l or pad_t or pad_r or pad_b:
        region = np.pad(region, ((pad_t, pad_b), (pad_l, pad_r), (0, 0)), mode="edge")
    return region


def face_crop_mp4(
    video_path: str | Path, start_frame: int, end_frame: int, fps: float, centre_ref: np.ndarray, scale_ref: float,
    size: int = 512, crf: int = 20,
) -> bytes:
    """Encode frames [start_frame, end_frame) cropped to the clip's face box and resized to size x size."""
    import av
    import av.logging

    av.logging.set_level(av.logging.ERROR)  # libx264 statistics are not errors

    x0, y0, side = crop_box((float(centre_ref[0]), float(centre_ref[1])), scale_ref)
    x0, y0, side = int(round(x0)), int(round(y0)), max(2, int(round(side)))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for _, rgb in iter_frames(video_path, start_frame=start_frame, end_frame=end_frame):
            crop = np.ascontiguousarray(_crop_square(rgb, x0, y0, side))
            frame = av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(width=size, height=size)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
