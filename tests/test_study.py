"""The learning study's bookkeeping (scripts/study.py): held-out pairs, features with known answers, speaker
identification and its chance level, baselines, cached generation under each condition, the results page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from data_prep.synthetic.generate import SyntheticCorpusConfig, generate_corpus
from omnitalker.constants import MEL_FPS
from omnitalker.study.features import JAW, style_features, sync_lag
from omnitalker.study.identify import accuracy, binomial_p_value, fit_centroids, frechet_same_vs_other, identify
from omnitalker.study.items import StudyCorpusError, load_items, training_clips
from omnitalker.study.measure import BASELINES, baseline_outputs
from omnitalker.study.score import fit_reference, score_system
from omnitalker.training.run import train

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(render=False, style_mode="sampled", num_speakers=3, sources_per_speaker=3, clips_per_source=4,
             heldout_sources_per_speaker=1, heldout_speakers=0, heldout_sentence_fraction=0.3, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("study") / "data"
    generate_corpus(SyntheticCorpusConfig(out=str(out), **SMALL))
    return out


@pytest.fixture(scope="module")
def items(corpus):
    return load_items(corpus, per_speaker=2)


def test_items_are_next_clip_pairs_from_heldout_sessions(corpus, items):
    assert len(items) == 3 * 2
    manifest = {e["clip_id"]: e for e in json.loads((corpus / "manifest.json").read_text())}
    for it in items:
        assert manifest[it.item_id]["split"] == "heldout_source"
        assert it.ref_mel.shape[0] == it.ref_codes.shape[0] and it.ref_codes.shape[1] == 61
        assert it.gt_codes.shape[1] == 61 and it.gt_mel.shape[1] == 100 and it.text != it.ref_text
    train_ids = {c for clips in training_clips(corpus, per_speaker=3).values() for c in [len(clips)]}
    assert train_ids == {3}
    with pytest.raises(StudyCorpusError, match="no corpus"):
        load_items(corpus / "missing")


def test_sync_lag_recovers_a_known_delay():
    rng = np.random.default_rng(0)
    fps, t = 25.0, 250
    energy = np.convolve(rng.standard_normal(t + 20), np.ones(4) / 4, mode="same")[:t]  # (T,) at fps
    codes = np.zeros((t, 61))
    codes[3:, JAW] = energy[:-3]  # the mouth follows the audio 3 frames later
    at = (np.arange(int(t / fps * MEL_FPS)) / MEL_FPS * fps).astype(int)  # video frame of each mel frame
    mel = energy[at][:, None] + np.zeros((1, 100))  # (n, 100), constant across bins
    lag, r = sync_lag(codes, fps, mel)
    assert lag == 3 and r > 0.95
    assert style_features(codes, fps)["jaw_std"] == pytest.approx(codes[:, JAW].std())


def test_identification_and_its_chance_level():
    rng = np.random.default_rng(1)
    names = ("a", "b")
    train = {s: [{"a": rng.normal(k * 3, 1), "b": rng.normal(-k * 3, 1)} for _ in range(20)] for k, s in
             enumerate(["s0", "s1", "s2"])}
    model = fit_centroids(train, names)
    test = [{"a": k * 3.0, "b": -k * 3.0} for k in range(3)]
    assert identify(model, test) == ["s0", "s1", "s2"]
    assert accuracy(identify(model, test), ["s0", "s1", "s0"]) == pytest.approx(2 / 3)
    assert binomial_p_value(2, 2, 0.5) == pytest.approx(0.25)
    assert binomial_p_value(0, 10, 0.1) == pytest.approx(1.0)
    gen = {s: rng.normal(k, 0.3, (200, 2)) for k, s in enumerate(["s0", "s1", "s2"])}
    truth = {s: rng.normal(k, 0.3, (200, 2)) for k, s in enumerate(["s0", "s1", "s2"])}
    scores = frechet_same_vs_other(gen, truth)
    assert scores["nearest_is_same"] == 1.0 and scores["same"] < scores["other"] and scores["chance"] == 1 / 3


def test_baselines_and_scores(corpus, items):
    training = training_clips(corpus, per_speaker=3)
    ref = fit_reference(training)
    mean_code = np.concatenate([c["codes"] for v in training.values() for c in v]).mean(0)
    mean_mel = np.concatenate([c["mel"] for v in training.values() for c in v]).mean(0)
    outs = {b: baseline_outputs(b, items, mean_code, mean_mel) for b in BASELINES}
    it = items[0]
    copy = outs["copy_reference"][it.item_id]
    assert copy["codes"].shape == it.gt_codes.shape and copy["mel"].shape == it.gt_mel.shape
    np.testing.assert_allclose(copy["codes"][: len(it.ref_codes_video)], it.ref_codes_video[: len(copy["codes"])])
    truth = score_system(ref, items, outs["ground_truth"])
    truth_rows = truth.pop("rows")
    assert truth["dtw_mel"] == pytest.approx(0.0, abs=1e-9)  # the ground truth is its own text rendering
    assert truth["sync"]["r"] > truth["sync"]["shuffled_r"] + 0.2  # the synthetic mouth follows the audio
    mean = score_system(ref, items, outs["population_mean"], truth_rows)
    assert mean["dtw_mel"] > 0 and np.isnan(mean["sync"]["r"])  # a constant mouth has no sync
    assert mean["identification"]["dynamic"]["accuracy"] in (0.0, 1 / 3, 2 / 3, 1.0)
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_outputs("oracle", items, mean_code, mean_mel)


@pytest.fixture(scope="module")
def checkpoint(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    args = ["model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={corpus}/corpus", f"paths.output_dir={out}",
            "data.num_workers=0", "data.max_frames=800", "trainer.max_steps=2", "trainer.enable_progress_bar=false",
            "callbacks.model_checkpoint.every_n_train_steps=2", "callbacks.sample_logger.every_n_steps=0",
            "model.sampler.steps=2", "model.optim.warmup_steps=1", "model.optim.lr=1e-3"]  # weights move off init
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        train(compose("train", overrides=args))
    return out


def test_generation_is_cached_per_item_and_conditions_differ(checkpoint, items, tmp_path):
    from omnitalker.study.generate import generate_items

    ckpt = checkpoint / "checkpoints" / "last.ckpt"
    sub = items[:2]
    gen = generate_items(ckpt, sub, tmp_path, ("full", "no_ref"), progress=False)
    for cond in ("full", "no_ref"):
        for it in sub:
            assert gen[cond][it.item_id]["codes"].shape == it.gt_codes.shape
            assert gen[cond][it.item_id]["mel"].shape == it.gt_mel.shape
    assert not np.allclose(gen["full"][sub[0].item_id]["codes"], gen["no_ref"][sub[0].item_id]["codes"])
    cached = tmp_path / "full" / f"{sub[0].item_id}.npz"
    stamp = cached.stat().st_mtime_ns
    again = generate_items(ckpt, sub, tmp_path, ("full",), progress=False)
    assert cached.stat().st_mtime_ns == stamp  # read back, not regenerated
    np.testing.assert_array_equal(again["full"][sub[0].item_id]["codes"], gen["full"][sub[0].item_id]["codes"])
    assert not list(tmp_path.rglob("*.part.npz"))
    with pytest.raises(ValueError, match="unknown study conditions"):
        generate_items(ckpt, sub, tmp_path, ("oracle",), progress=False)


def test_study_script_writes_results_and_fills_the_page(corpus, checkpoint, tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import study

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "mm_attention").symlink_to(checkpoint, target_is_directory=True)
    doc = tmp_path / "page.md"
    doc.write_text("# Study\n\nprose before\n\n<!-- study:begin -->\nold\n<!-- study:end -->\n\nprose after\n")
    monkeypatch.setattr(study, "REPO", tmp_path)
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("study", overrides=[f"corpus={corpus}", f"runs_dir={runs}", f"out={tmp_path / 'eval'}",
                                          f"doc={doc}", "rows=[mm_attention,mm_attention@2]", "train=false", "per_speaker=1",
                                          "train_clips_per_speaker=3", "voice=false", "progress=false"])
    study.main.__wrapped__(cfg)
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert set(results["rows"]["mm_attention"]["conditions"]) == {"full", "no_ref", "no_guidance"}
    assert results["chance"] == pytest.approx(1 / 3) and results["num_items"] == 3
    page = doc.read_text()
    assert "prose before" in page and "prose after" in page and "old" not in page
    assert "copy the reference (baseline)" in page and "| MM-attention (paper) | 2 |" in page
    assert results["rows"]["mm_attention@2"]["run"]["step"] == 2  # an intermediate checkpoint as its own row
    assert set(results["rows"]["mm_attention@2"]["conditions"]) == {"full"}
    assert (tmp_path / "docs" / "img" / "study_loss.png").is_file()
