"""No file a user is handed may run code when loaded: a pickle whose ``__reduce__`` creates a marker file is passed to
every loader and entry point that takes a checkpoint or weights file; each refuses it in one line and the marker is
never created. Also: saved checkpoints hold plain data only, old checkpoints get a conversion command, and the DiT
checkpoint records the face model that fitted its corpus."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import make_tiny_model
from corpus_factory import make_records, write_corpus
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from omnitalker.checkpoint import CheckpointError, UnsafeCheckpointError, load_dit, read_checkpoint
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.inference.errors import InferenceInputError
from omnitalker.inference.pipeline import load_codes_file
from omnitalker.render.errors import RenderError
from omnitalker.safe_io import plain_data
from omnitalker.text.errors import VocabFormatError
from omnitalker.text.vocab import Vocab
from omnitalker.training.checkpoint_io import AtomicCheckpointIO
from omnitalker.training.run import train
from omnitalker.vocoder.errors import VocoderConfigError
from omnitalker.vocoder.vocos_model import VocosArchitecture, build_vocos, load_vocos, save_vocos

ROOT = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this calls ``os.system`` (the attack of the issue): it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def malicious_files(folder: Path) -> tuple[Path, list[Path]]:
    """(marker path, [a torch.save zip holding the payload next to real tensors, a bare pickle of it])."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "PWNED"
    zipped, raw = folder / "zipped.ckpt", folder / "raw.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "omnitalker": {"format": 2, "x": Payload(marker)}}, zipped)
    raw.write_bytes(pickle.dumps(Payload(marker)))
    assert not marker.exists()
    return marker, [zipped, raw]


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


def train_overrides(corpus: Path, out: Path, steps: int = 2) -> list[str]:
    return ["model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={corpus}", f"paths.output_dir={out}",
            "data.num_workers=0", "data.max_frames=500", "data.max_samples=8", f"trainer.max_steps={steps}",
            f"callbacks.model_checkpoint.every_n_train_steps={steps}", "callbacks.sample_logger.every_n_steps=0",
            "trainer.enable_progress_bar=false"]


def config(name: str, args: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(name, overrides=args)


FACE_A, FACE_B = "face_model_v1-aaaaaaaaaaaaaaaa", "face_model_v1-bbbbbbbbbbbbbbbb"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A tiny corpus whose index records that face model FACE_A fitted its codes."""
    return write_corpus(tmp_path_factory.mktemp("corpus") / "c", make_records(8, num_sources=2, seed=3),
                        face_model=FACE_A)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    train(config("train", train_overrides(corpus, out)))
    return out / "checkpoints" / "last.ckpt"


# ---------------------------------------------------------------------------------------------------- library loaders
def test_dit_checkpoint_loaders_refuse_pickles(tmp_path):
    marker, files = malicious_files(tmp_path)
    for path in files:
        for load in (load_dit, read_checkpoint, AtomicCheckpointIO().load_checkpoint):
            with pytest.raises(UnsafeCheckpointError, match="refusing to load") as info:
                load(path)
            assert "\n" not in str(info.value) and "convert_checkpoint.py" in str(info.value)
    with pytest.raises(UnsafeCheckpointError):  # Lightning's resume asks for weights_only=False: refused anyway
        AtomicCheckpointIO().load_checkpoint(files[0], weights_only=False)
    assert not marker.exists(), "the malicious pickle ran"


def test_lightning_resume_path_refuses_pickles(tmp_path):
    """trainer.fit(ckpt_path=...) reads the file through the project's checkpoint IO plugin."""
    import lightning as L
    from lightning.pytorch.demos.boring_classes import BoringModel

    marker, files = malicious_files(tmp_path)
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, plugins=[AtomicCheckpointIO()], default_root_dir=tmp_path)
    with pytest.raises(UnsafeCheckpointError):
        trainer.fit(BoringModel(), ckpt_path=str(files[0]), weights_only=False)
    assert not marker.exists()


def test_decoder_weights_refuse_pickles_and_code_in_configs(tmp_path):
    from omnitalker.face.face_model import FaceModel
    from omnitalker.render.checkpoint import load_renderer, save_renderer
    from omnitalker.render.config import small_config
    from omnitalker.render.renderer import Renderer

    marker, files = malicious_files(tmp_path / "evil")
    renderer = save_renderer(Renderer(small_config(), FaceModel.default()), tmp_path / "renderer")
    (renderer / "renderer.safetensors").write_bytes(files[1].read_bytes())
    with pytest.raises(RenderError, match="cannot read renderer weights"):
        load_renderer(renderer)

    vocos = save_vocos(build_vocos(VocosArchitecture(dim=16, intermediate_dim=32, num_layers=1)), tmp_path / "vocos",
                       VocosArchitecture(dim=16, intermediate_dim=32, num_layers=1))
    good_weights = (vocos / "pytorch_model.bin").read_bytes()
    for evil in files:
        (vocos / "pytorch_model.bin").write_bytes(evil.read_bytes())
        with pytest.raises(VocoderConfigError, match="refusing to load"):
            load_vocos(vocos)
    (vocos / "pytorch_model.bin").write_bytes(good_weights)
    config = yaml.safe_load((vocos / "config.yaml").read_text())  # Vocos.from_hparams imports any class_path
    config["head"] = {"class_path": "subprocess.getoutput", "init_args": {"cmd": f"touch {marker}"}}
    (vocos / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(VocoderConfigError, match="not allowed"):
        load_vocos(vocos)
    assert not marker.exists(), "a decoder weights or config file ran code"


def test_stats_vocab_and_codes_files_refuse_pickles(tmp_path):
    marker, files = malicious_files(tmp_path)
    with pytest.raises(ValueError, match="cannot read code statistics"):
        CodeNormalizer.load(files[1])
    with pytest.raises(VocabFormatError):
        Vocab.load(files[1])
    objects = tmp_path / "objects.npz"  # an npz whose array is a pickled object array
    np.savez(objects, codes=np.array([Payload(marker)], dtype=object), fps=np.array(25.0))
    np.save(tmp_path / "pickled.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    for path in (objects, tmp_path / "pickled.npy", files[1]):
        with pytest.raises(InferenceInputError, match="cannot read the reference codes file") as info:
            load_codes_file(path)
        assert "\n" not in str(info.value)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------- entry points
@pytest.mark.parametrize("entry", ["finetune init_from=", "train ckpt_path="])  # infer dit=: test_bad_inputs.py
def test_cli_entry_points_refuse_pickles(entry, corpus, tmp_path):
    marker, files = malicious_files(tmp_path / "evil")
    script, key = entry.split()
    args = {"finetune": [f"data.corpus={corpus}", f"paths.output_dir={tmp_path / 'ft'}", "model=tiny", "trainer=cpu",
                         "logger=csv"],
            "train": [f"data.corpus={corpus}", f"paths.output_dir={tmp_path / 'tr'}", "model=tiny", "trainer=cpu",
                      "logger=csv"]}[script]
    proc = subprocess.run([sys.executable, str(ROOT / f"scripts/{script}.py"), f"{key}{files[1]}", *args],
                          check=False, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode != 0
    assert "refusing to load" in one_error_line(proc.stderr)
    assert not marker.exists(), f"scripts/{script}.py {key}... ran the malicious pickle"


# ---------------------------------------------------------------------------------------------------- saving
def test_saved_checkpoints_hold_plain_data_only(tmp_path):
    from lightning.pytorch.utilities.parsing import AttributeDict

    payload = {"hyper_parameters": AttributeDict(arch=OmegaConf.create({"dim": 8, "layers": [1, 2]})),
               "omnitalker": {"config": OmegaConf.create({"run": {"dir": "x"}}), "path": Path("/a/b"),
                              "n": np.int64(3)}, "state_dict": {"w": torch.ones(2)}}
    path = tmp_path / "plain.ckpt"
    AtomicCheckpointIO().save_checkpoint(payload, path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert loaded["hyper_parameters"] == {"arch": {"dim": 8, "layers": [1, 2]}}
    assert loaded["omnitalker"]["config"] == {"run": {"dir": "x"}} and loaded["omnitalker"]["path"] == "/a/b"
    assert loaded["omnitalker"]["n"] == 3 and type(loaded["omnitalker"]["n"]) is int
    with pytest.raises(TypeError, match="checkpoint.omnitalker.obj"):
        plain_data({"omnitalker": {"obj": object()}})


def test_old_checkpoints_with_omegaconf_are_refused_with_the_conversion_command(tmp_path):
    model = make_tiny_model()
    meta = {"format": 1, "arch": OmegaConf.create(model.cfg.to_dict()), "vocab": [" "] + [f"s{i}" for i in range(39)],
            "normalizer": {"mean": torch.zeros(61), "std": torch.ones(61)}, "sampler": {},
            "config": OmegaConf.create({"model": {"name": "tiny"}})}
    old = tmp_path / "old.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}, "omnitalker": meta}, old)
    with pytest.raises(UnsafeCheckpointError, match="omegaconf") as info:
        load_dit(old)
    command = str(info.value).split("convert it with: ")[1]
    assert command == f"python scripts/convert_checkpoint.py {old} {tmp_path / 'old.v2.ckpt'}"
    proc = subprocess.run([sys.executable, *command.split()[1:]], check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0 and "only files you trust" in proc.stderr, proc.stderr[-2000:]
    converted = load_dit(tmp_path / "old.v2.ckpt", prefer_ema=False)
    assert converted.meta["format"] == 2 and converted.meta["config"] == {"model": {"name": "tiny"}}
    assert converted.face_model is None
    for a, b in zip(converted.model.parameters(), model.parameters()):
        torch.testing.assert_close(a, b)


# ---------------------------------------------------------------------------------------------------- face model id
def test_checkpoint_records_the_corpus_face_model_and_finetuning_checks_it(corpus, trained, tmp_path):
    meta = read_checkpoint(trained)["omnitalker"]
    assert meta["format"] == 2 and meta["face_model"] == FACE_A
    other = write_corpus(tmp_path / "other", make_records(8, num_sources=2, seed=4), face_model=FACE_B)
    with pytest.raises(CheckpointError, match=f"face model {FACE_A}.*{FACE_B}"):
        train(config("finetune", train_overrides(other, tmp_path / "ft") + [f"init_from={trained}"]))
    mixed = tmp_path / "mixed"
    write_corpus(mixed / "a", make_records(4, seed=5, prefix="a"), face_model=FACE_A)
    write_corpus(mixed / "b", make_records(4, seed=6, prefix="b"), face_model=FACE_B)
    with pytest.raises(ValueError, match="different face models"):
        train(config("train", train_overrides(mixed, tmp_path / "mixed_run")))


def test_face_model_id_tracks_the_fitting_bases():
    from omnitalker.face.face_model import FaceModel
    from omnitalker.face.fingerprint import face_model_file_id, face_model_id

    model = FaceModel.default()
    assert face_model_file_id() == face_model_id(model) and face_model_id(model).startswith("face_model_v1-")
    changed = FaceModel(model.mean_shape, model.exp_basis * 1.001, model.eye_basis)
    assert face_model_id(changed) != face_model_id(model)


def test_corpus_index_keeps_the_face_model_through_append_and_merge(tmp_path):
    import json

    from omnitalker.data.corpus import CorpusWriter
    from omnitalker.data.corpus_merge import merge_corpora
    from omnitalker.data.errors import CorpusFormatError

    a = write_corpus(tmp_path / "src" / "a", make_records(2, seed=1, prefix="a"), face_model=FACE_A)
    write_corpus(tmp_path / "src" / "b", make_records(2, seed=2, prefix="b"), face_model=FACE_A)
    with pytest.raises(CorpusFormatError, match="face model"):
        CorpusWriter(a, mode="a", face_model=FACE_B)
    merged = merge_corpora(tmp_path / "src", tmp_path / "merged")
    assert json.loads((merged / "index.json").read_text())["face_model"] == FACE_A
    write_corpus(tmp_path / "src" / "c", make_records(2, seed=3, prefix="c"), face_model=FACE_B)
    mixed = merge_corpora(tmp_path / "src", tmp_path / "mixed")
    assert json.loads((mixed / "index.json").read_text())["face_model"] is None
