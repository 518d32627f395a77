"""The bad-input battery of scripts/infer.py: missing, garbage, truncated, malicious and mismatched checkpoints, broken
media and bad text each end in one ``error:`` line with a non-zero exit status, no traceback and no output file; the
malicious pickle never runs. (The same media cases are checked at the Python API level in test_inference_e2e.py.)"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import SHARED

# the tiny trained DiT + random renderer and the synthetic reference of the end-to-end tests, and their clip writers
from test_inference_e2e import two_faces_video, write_clip

from omnitalker.face.fingerprint import face_model_file_id
from omnitalker.inference.errors import InferenceInputError
from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig

ROOT = Path(__file__).resolve().parents[1]
OTHER_FACE_MODEL = "face_model_v1-0123456789abcdef"


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def files(smoke_models, reference, tmp_path_factory) -> dict[str, Path]:
    """Every bad file of the battery, made once from the good ones."""
    dit, renderer = smoke_models
    clip, truth, _ = reference
    d = tmp_path_factory.mktemp("bad")
    f = {"dit": dit, "renderer": renderer, "clip": clip, "truth": truth, "marker": d / "PWNED", "dir": d}
    (d / "garbage.ckpt").write_bytes(np.random.default_rng(0).bytes(4096))
    (d / "truncated.ckpt").write_bytes(dit.read_bytes()[:5000])
    (d / "evil.ckpt").write_bytes(pickle.dumps(Payload(f["marker"])))
    ckpt = torch.load(dit, map_location="cpu", weights_only=True)
    ckpt["omnitalker"]["arch"]["dim"] *= 2
    torch.save(ckpt, d / "mismatched.ckpt")
    ckpt = torch.load(dit, map_location="cpu", weights_only=True)
    ckpt["omnitalker"]["face_model"] = OTHER_FACE_MODEL
    torch.save(ckpt, d / "other_face_model.ckpt")
    with np.load(truth) as z:  # the reference codes, marked as fitted by the bundled face model
        np.savez(d / "codes_default_face.npz", **{k: z[k] for k in z.files}, face_model=face_model_file_id())
    np.savez(d / "evil_codes.npz", codes=np.array([Payload(f["marker"])], dtype=object), fps=np.array(25.0))
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10)
    frames = [fr.to_ndarray(format="rgb24") for fr in av.open(str(clip)).decode(video=0)]
    f["noaudio"] = write_clip(d / "noaudio.mp4", frames[:50], with_audio=False)
    f["short"] = write_clip(d / "short.mp4", frames[:12], with_audio=True)
    f["two_faces"] = two_faces_video(d / "two.mp4")
    return f


CASES = {  # name: (overrides of the good command line, pattern the error line must match)
    "missing checkpoint": ({"dit": "{dir}/nope.ckpt"}, "checkpoint not found"),
    "garbage checkpoint": ({"dit": "{dir}/garbage.ckpt"}, "cannot read"),
    "truncated checkpoint": ({"dit": "{dir}/truncated.ckpt"}, "cannot read"),
    "malicious checkpoint": ({"dit": "{dir}/evil.ckpt"}, "refusing to load .*convert_checkpoint"),
    "not a DiT checkpoint": ({"dit": "{renderer}/renderer.safetensors"}, "cannot read|not an OmniTalker"),
    "mismatched checkpoint": ({"dit": "{dir}/mismatched.ckpt"}, "do not match"),
    "other face model": ({"dit": "{dir}/other_face_model.ckpt", "ref_codes": "{dir}/codes_default_face.npz"},
                         "face model .*allow_face_model_mismatch"),
    "missing renderer": ({"renderer": "{dir}/no_renderer"}, "missing renderer file"),
    "missing reference": ({"ref": "{dir}/none.mp4"}, "not found|does not exist"),
    "corrupt mp4": ({"ref": "{dir}/corrupt.mp4"}, "decod|corrupt|invalid"),
    "no audio track": ({"ref": "{noaudio}"}, "audio"),
    "silent audio": ({"ref": str(SHARED / "media/hard/liveportrait_d19.mp4")}, "silen"),
    "too short": ({"ref": "{short}"}, "short|1 s"),
    "no face": ({"ref": str(SHARED / "media/hard/mmaudio_F8Zt3mYlOqU_000094.mp4"), "ref_codes": "null"}, "face"),
    "two faces": ({"ref": "{two_faces}", "ref_codes": "null"}, "face"),
    "malicious codes npz": ({"ref_codes": "{dir}/evil_codes.npz"}, "cannot read the reference codes file"),
    "blank text": ({"text": "   "}, "empty"),
    "unpronounceable text": ({"text": "⊗⊕∰"}, "nothing to pronounce|unknown to the vocabulary"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cli_bad_input_battery(name, files, reference):
    overrides, pattern = CASES[name]
    _, _, ref_text = reference
    out = files["dir"] / f"{name.replace(' ', '_')}.mp4"
    args = {"dit": "{dit}", "renderer": "{renderer}", "ref": "{clip}", "ref_codes": "{truth}", "text": "Hello there.",
            "ref_text": ref_text, "vocoder": "griffin_lim", "crop": "none", "device": "cpu", "steps": "2",
            "out": str(out), **overrides}
    argv = [f"{k}={v.format(**files) if k not in ('text', 'ref_text') else v}" for k, v in args.items()]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/infer.py"), *argv], check=False, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode != 0, f"{name}: exit status 0\n{proc.stderr[-2000:]}"
    errors = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert re.search(f"(?i){pattern}", errors[0]), errors[0]
    assert not out.exists() and not list(out.parent.glob(f"*{out.stem}*tmp*")), f"{name}: output left behind"
    assert not files["marker"].exists(), f"{name}: the malicious pickle ran"


def test_face_model_mismatch_is_refused_unless_allowed(files, reference):
    """The DiT records face model OTHER; the renderer and the reference codes use the bundled one."""
    _, _, ref_text = reference
    base = {"renderer": str(files["renderer"]), "vocoder": "griffin_lim", "device": "cpu", "sampler": {"steps": 2},
            "crop": "none"}
    other = str(files["dir"] / "other_face_model.ckpt")
    with pytest.raises(InferenceInputError, match=f"the renderer .*belong to face model .*{OTHER_FACE_MODEL}"):
        OmniTalkerPipeline(PipelineConfig(other, **base))
    with pytest.warns(UserWarning, match="the renderer"):
        pipeline = OmniTalkerPipeline(PipelineConfig(other, allow_face_model_mismatch=True, **base))
    out, codes = files["dir"] / "mismatch.mp4", files["dir"] / "codes_default_face.npz"
    pipeline.cfg.allow_face_model_mismatch = False
    with pytest.raises(InferenceInputError, match=f"the reference .*belong to face model .*{OTHER_FACE_MODEL}"):
        pipeline.generate("Hello.", files["clip"], out, ref_text=ref_text, ref_codes=codes, progress=False)
    assert not out.exists()
    pipeline.cfg.allow_face_model_mismatch = True
    with pytest.warns(UserWarning, match="the reference"):
        pipeline.generate("Hello.", files["clip"], out, ref_text=ref_text, ref_codes=codes, progress=False)
    assert out.exists()
    unrecorded = OmniTalkerPipeline(PipelineConfig(str(files["dit"]), **base))  # nothing recorded: nothing checked
    assert unrecorded.dit_face_model is None
