"""Command lines as people type them: extract_codes.py with a positional path and no MediaPipe log flood on stderr;
data_prep.prepare exits non-zero with a failure count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_prep import prepare
from data_prep.process_video import VideoProcessor
from data_prep.synthetic import ARCHETYPES, FaceRenderer, Mp4Writer, generate_session
from omnitalker.face.landmarks import FaceCounter, FaceLandmarkerRunner, LandmarkerConfig

ROOT = Path(__file__).resolve().parents[1]
NATIVE_LOG_MARKERS = ("INFO: ", "W0000 ", "I0000 ", "WARNING: Logging before", "XNNPACK")


def _native_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(marker in line for marker in NATIVE_LOG_MARKERS)]


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory) -> Path:
    """10 frames (0.4 s) of the synthetic face at 256 px: enough for the landmarker and the 8-frame minimum."""
    session = generate_session(ARCHETYPES[1], 1, 0, clips_per_source=1, seed=0)
    frames = FaceRenderer(batch_size=10).render(session.codes[:10])[:, ::2, ::2]  # (10, 256, 256, 3)
    path = tmp_path_factory.mktemp("cli") / "clip.mp4"
    with Mp4Writer(path, 25.0, 256) as writer:
        writer.add(np.ascontiguousarray(frames), session.speech.audio[: 10 * 960])
    return path


def _run_script(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "extract_codes.py"), *args], check=False, cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def test_extract_codes_takes_a_positional_path_and_keeps_stderr_clean(face_clip, tmp_path):
    done = _run_script([str(face_clip), "landmarker.count_faces_every=2"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    codes = np.load(tmp_path / "clip.codes.npz", allow_pickle=False)["codes"]  # default output name, in the cwd
    assert codes.shape == (10, 61) and np.isfinite(codes).all()
    assert _native_lines(done.stderr) == []
    assert "Traceback" not in done.stderr


def test_extract_codes_bad_arguments_print_usage(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from extract_codes import main, parse_args

    for args in ([], ["a.mp4", "b.npz", "c"], ["a.mp4", "bogus=1"], ["a.mp4", "fit.iterations=many"]):
        assert main(args) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("usage: "), lines
    args = parse_args(["x/a=b.mp4", "fit.iterations=3"])  # a path with '=' in it is still the positional video
    assert (args.video, args.out, args.extract.fit.iterations) == ("x/a=b.mp4", "a=b.codes.npz", 3)
    assert parse_args(["video=v.mp4", "out=o.npz"]).out == "o.npz"  # the key=value form still works


def test_native_log_lines_are_hidden_unless_asked_for(face_clip, capfd):
    from omnitalker.face.video import read_frames

    rgb = read_frames(face_clip, max_frames=1)[0]
    for native_logs in (False, True):
        config = LandmarkerConfig(native_logs=native_logs)
        with FaceLandmarkerRunner(config) as runner:
            assert runner.detect(rgb, 0)
        with FaceCounter(config) as counter:
            assert counter.boxes(rgb).shape[0] >= 1
        lines = _native_lines(capfd.readouterr().err)
        assert bool(lines) == native_logs, lines  # shown when asked for: the check can see them


# --- data_prep.prepare exit status -----------------------------------------------------------------------------


def test_prepare_exits_nonzero_when_nothing_was_accepted(tmp_path, monkeypatch, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (videos / name).write_bytes(b"\x00" * 64)  # unreadable: rejected as decode_error
    monkeypatch.setattr(prepare, "_PROCESSOR", None)
    status = prepare.main([f"inputs=[{videos}]", f"out={tmp_path / 'out'}"])
    assert status == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("prepare: no clip accepted from any of 2 videos (rejections: decode_error x2")


def test_prepare_exits_nonzero_with_a_failure_count(tmp_path, monkeypatch, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (videos / name).write_bytes(b"\x00" * 64)
    real = VideoProcessor.process

    def crash_on_b(self, video, **layout):
        if Path(video).name == "b.mp4":
            raise RuntimeError("simulated bug")
        return real(self, video, **layout)

    monkeypatch.setattr(VideoProcessor, "process", crash_on_b)
    monkeypatch.setattr(prepare, "_PROCESSOR", None)
    out = tmp_path / "out"
    assert prepare.main([f"inputs=[{videos}]", f"out={out}"]) == 1
    err = capsys.readouterr().err
    assert "simulated bug" in err
    assert err.strip().splitlines()[-1].startswith("prepare: 1 of 3 videos failed with an error")
    assert len(list((out / "done").glob("*.json"))) == 2  # the failed one is retried by the next run


def test_prepare_exit_status_rules(capsys):
    ok = {"clips": 5, "videos_done": 3, "rejection_reasons": {"no_face": 1}, "failed_this_run": [],
          "processed_this_run": 3}
    assert prepare.exit_status(ok) == (0, None)
    assert prepare.exit_status({**ok, "failed_this_run": ["x.mp4"]})[0] == 1
    assert prepare.exit_status({**ok, "clips": 0, "processed_this_run": 0})[0] == 1  # resumed, still nothing
    assert prepare.main(["out=/tmp/x"]) == 2 and prepare.main(["bogus_key=1"]) == 2
    assert prepare.main(["inputs=[/nonexistent]", "out=/tmp/x", "shard=3/2"]) == 2
    assert "error: " in capsys.readouterr().err
