"""512x512 face-crop mp4 (h264, in memory) of a clip, using the clip's weak-perspective references (see
`omnitalker.face.face_model.crop_box`): the renderer's keypoints and these pixels share one frame."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np

from omnitalker.face.crop import crop_square
from omnitalker.face.face_model import crop_box
from omnitalker.face.video import iter_frames


def face_crop_mp4(
    video_path: str | Path,
    start_frame: int,
    end_frame: int,
    fps: float,
    centre_ref: np.ndarray,
    scale_ref: float,
    size: int = 512,
    crf: int = 20,
) -> bytes:
    """Encode frames [start_frame, end_frame) cropped to the clip's face box and resized to size x size."""
    import av
    import av.logging

    av.logging.set_level(av.logging.ERROR)  # libx264 statistics are not errors

    x0, y0, side = crop_box((float(centre_ref[0]), float(centre_ref[1])), scale_ref)
    x0, y0, side = round(x0), round(y0), max(2, round(side))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for _, rgb in iter_frames(video_path, start_frame=start_frame, end_frame=end_frame):
            crop = np.ascontiguousarray(crop_square(rgb, x0, y0, side))
            frame = av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(width=size, height=size)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
