"""Test-set formats, the evaluation runner (generated= mode, baselines, resume), report and plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_eval_style import CALM, LIVELY, style_track

from omnitalker.eval.metric import Measurement, MetricError
from omnitalker.eval.report import compare, render_report
from omnitalker.eval.runner import EvalRunError, Evaluation, RunOptions, load_measurement, load_metric, save_measurement
from omnitalker.eval.style import MotionStyle
from omnitalker.eval.testsets import TestSetError, build_from_corpus, load_testset, read_manifest, read_seedtts
from omnitalker.inference.mux import write_video

STYLE = {"efid": {"codes": "dit"}, "pfid": {"codes": "dit"}, "motion": {"codes": "dit"}}


def tiny_video(path: Path, seconds: float = 1.0, seed: int = 0) -> Path:
    frames = np.random.default_rng(seed).integers(0, 255, (int(25 * seconds), 32, 32, 3), dtype=np.uint8)
    write_video(path, frames, 0.1 * np.sin(np.arange(int(24000 * seconds)) / 20).astype(np.float32), fps=25,
                preset="ultrafast")
    return path


def save_codes(path: Path, codes: np.ndarray) -> Path:
    np.savez(path, codes=codes, fps=np.float64(25.0))
    return path


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """Two items (ref / gt video + codes, calm and lively speakers) and a peer system's outputs for them."""
    root = tmp_path_factory.mktemp("set")
    peer = root / "peer"
    peer.mkdir()
    rows = []
    for i, style in enumerate((CALM, LIVELY)):
        tiny_video(root / f"ref{i}.mp4", seed=i)
        tiny_video(root / f"gt{i}.mp4", seed=10 + i)
        save_codes(root / f"ref{i}.npz", style_track(4, **style, seed=i))
        save_codes(root / f"gt{i}.npz", style_track(4, **style, seed=10 + i))
        tiny_video(peer / f"item{i}.mp4", seed=20 + i)
        save_codes(peer / f"item{i}.npz", style_track(4, **style, seed=20 + i))
        rows.append({"id": f"item{i}", "ref": f"ref{i}.mp4", "ref_text": "hello", "text": "good morning",
                     "gt": f"gt{i}.mp4", "ref_codes": f"ref{i}.npz", "gt_codes": f"gt{i}.npz"})
    manifest = root / "set.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest, peer


# ------------------------------------------------------------------------------------------------ formats
def test_seedtts_list(tmp_path):
    (tmp_path / "prompt-wavs").mkdir()
    sf.write(tmp_path / "prompt-wavs" / "a.wav", np.zeros(2400, np.float32), 24000)
    lst = tmp_path / "meta.lst"
    lst.write_text("u1|Some call me nature.|prompt-wavs/a.wav|Hello world.\n\nu2|对，这就是我。|prompt-wavs/a.wav|你好世界\n")
    items = load_testset(lst)
    assert [i.id for i in items] == ["u1", "u2"]
    assert items[0].ref == tmp_path / "prompt-wavs" / "a.wav" and items[0].ref_text == "Some call me nature."
    assert items[0].text == "Hello world." and items[0].audio_only and items[0].gt is None
    assert (items[0].language, items[1].language) == ("en", "zh")
    lst.write_text("u1|x|prompt-wavs/a.wav\n")
    with pytest.raises(TestSetError, match=r"meta.lst:1: expected utt"):
        read_seedtts(lst)
    lst.write_text("u1|x|missing.wav|y\n")
    with pytest.raises(TestSetError, match="prompt_wav file .*missing.wav not found"):
        read_seedtts(lst)


def test_jsonl_manifest(tiny_set, tmp_path):
    manifest, _ = tiny_set
    items = read_manifest(manifest)
    assert [i.id for i in items] == ["item0", "item1"]
    assert items[0].gt == manifest.parent / "gt0.mp4" and items[0].ref_codes == manifest.parent / "ref0.npz"
    assert not items[0].audio_only and items[0].text == "good morning"
    bad = tmp_path / "bad.jsonl"
    for text, message in ((json.dumps({"id": "a", "ref": "x.mp4"}), "missing or empty text"),
                          ("{not json", "not JSON"),
                          (json.dumps({"id": "a/b", "ref": "x.mp4", "text": "t"}), "item id"),
                          (json.dumps({"id": "a", "ref": "x.mp4", "text": "t"}), "ref file .*x.mp4 not found")):
        bad.write_text(text + "\n")
        with pytest.raises(TestSetError, match=message):
            read_manifest(bad)
    with pytest.raises(TestSetError, match="unknown test-set format"):
        load_testset(tmp_path / "set.csv")


# ------------------------------------------------------------------------------------------------ runner
def test_missing_metric_module_is_a_clear_error():
    # a name no module has registered (a registered one, e.g. "wer" once its tests ran, is never re-imported)
    with pytest.raises(MetricError, match="'not_a_family' lives in omnitalker.eval.nope, which cannot be imported"):
        load_metric("not_a_family", {}, {"not_a_family": "omnitalker.eval.nope"})
    with pytest.raises(MetricError, match="unknown metric 'bleu'"):
        load_metric("bleu")


def test_measurement_cache_round_trip_and_option_check(tmp_path):
    m = Measurement({"a": 1.5}, {"x": np.arange(6.0).reshape(2, 3)})
    save_measurement(tmp_path, "efid", m, {"codes": "dit"}, {"codes": "dit"})
    back = load_measurement(tmp_path, "efid", {"codes": "dit"})
    assert back.scalars == {"a": 1.5}
    np.testing.assert_array_equal(back.arrays["x"], m.arrays["x"])
    assert load_measurement(tmp_path, "efid", {"codes": "video"}) is None  # other options: recompute


def test_generated_mode_scores_resumes_and_reports(tiny_set, tmp_path, monkeypatch):
    manifest, peer = tiny_set
    items = load_testset(manifest)
    options = RunOptions(system="generated", metrics=dict(STYLE), generated_dir=str(peer), progress=False)
    first = Evaluation(items, tmp_path / "run", options, testset=str(manifest))
    summary = first.run()
    assert all(c == {"computed": 2, "cached": 0, "failed": 0} for c in first.counts.values())
    efid = summary["metrics"]["efid"]["values"]["efid"]
    assert 0 < efid < 1 and summary["metrics"]["efid"]["info"]["codes"] == "dit"
    assert summary["metrics"]["motion"]["values"]["gen_blink_per_min"] == pytest.approx((4 * 15 + 12 * 15) / 2)
    assert (tmp_path / "run" / "items" / "item0" / "metrics" / "pfid.npz").is_file()
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert on_disk["metrics"]["pfid"]["values"] == summary["metrics"]["pfid"]["values"]
    assert {p.name for p in (tmp_path / "run" / "plots").iterdir()} == {"head_heatmap.png", "yaw_tracks.png",
                                                                      "gaze_tracks.png"}
    report = (tmp_path / "run" / "report.md").read_text()
    for heading in ("Table 1: audio", "Table 2: video", "Table 4", "Motion style", "| E-FID | P-FID |"):
        assert heading in report
    assert f"{efid:.3f}" in report

    # resume: every measurement comes from the cache, no metric runs and no media is decoded
    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(MotionStyle, "measure", fail)
    monkeypatch.setattr("omnitalker.eval.runner.load_clip", fail)
    again = Evaluation(items, tmp_path / "run", options, testset=str(manifest))
    resumed = again.run()
    assert all(c == {"computed": 0, "cached": 2, "failed": 0} for c in again.counts.values())
    assert resumed["metrics"]["efid"]["values"] == summary["metrics"]["efid"]["values"]


def test_baselines_are_ordered_and_compared(tiny_set, tmp_path):
    manifest, _ = tiny_set
    items = load_testset(manifest)
    metrics = {"efid": {"codes": "dit", "against": "target"}, "pfid": {"codes": "dit", "against": "target"}}
    results = {}
    for system in ("ground_truth", "copy_reference", "mean_motion"):
        options = RunOptions(system=system, metrics={k: dict(v) for k, v in metrics.items()}, progress=False)
        results[system] = Evaluation(items, tmp_path / system, options, testset=str(manifest)).run()
    values = {s: r["metrics"]["pfid"]["values"]["pfid"] for s, r in results.items()}
    assert values["ground_truth"] == pytest.approx(0.0, abs=1e-9)
    assert 0 < values["copy_reference"] < values["mean_motion"]  # same speakers' motion beats no motion
    path = compare([tmp_path / s for s in results], tmp_path / "table")
    text = path.read_text()
    assert "ground_truth (ground_truth)" in text and "mean_motion (mean_motion)" in text


def test_run_directory_and_input_checks(tiny_set, tmp_path):
    manifest, _peer = tiny_set
    items = load_testset(manifest)
    Evaluation(items, tmp_path / "r", RunOptions(system="ground_truth", metrics={"efid": {"codes": "dit"}},
                                                 progress=False, plots=False), testset="a").run()
    with pytest.raises(EvalRunError, match="holds an evaluation of ground_truth"):
        Evaluation(items, tmp_path / "r", RunOptions(system="copy_reference", metrics={}, progress=False),
                   testset="a").run()
    with pytest.raises(EvalRunError, match="needs the models"):
        Evaluation(items, tmp_path / "g", RunOptions(system="generate"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalRunError, match="no output for 2 of 2 items"):
        Evaluation(items, tmp_path / "g", RunOptions(system="generated", generated_dir=str(tmp_path / "empty")))


def test_failed_items_are_reported_not_fatal(tiny_set, tmp_path):
    manifest, _peer = tiny_set
    items = load_testset(manifest)
    # codes=video needs a face in the frames: the random tiny videos have none -> every item fails, clearly
    options = RunOptions(system="ground_truth", metrics={"efid": {"codes": "video"}}, progress=False, plots=False)
    summary = Evaluation(items, tmp_path / "f", options, testset=str(manifest)).run()
    assert summary["metrics"]["efid"]["measured"] == 0
    assert set(summary["metrics"]["efid"]["errors"]) == {"item0", "item1"}
    assert "face" in summary["metrics"]["efid"]["errors"]["item0"]
    assert "| efid |" in render_report([summary])


def test_build_from_halves_cuts_each_clip_into_reference_and_target(tmp_path, monkeypatch):
    import omnitalker.eval.style as style
    from omnitalker.eval.testsets import build_from_halves
    from omnitalker.inference.media import decode_audio, decode_video

    fitted = []

    def fake_fit(frames, fps, name="clip"):  # the face fit is slow and needs faces: its input is what is checked
        fitted.append((len(frames), fps))
        return np.tile(np.arange(len(frames), dtype=np.float32)[:, None], (1, 61))  # row i = fitted frame i

    monkeypatch.setattr(style, "fit_frames", fake_fit)
    clips = [tiny_video(tmp_path / "a.mp4", seconds=4.0), tiny_video(tmp_path / "b.mp4", seconds=1.0, seed=1)]
    manifest = build_from_halves(clips, tmp_path / "set", max_seconds=3.2, code_stride=3)
    items = load_testset(manifest)
    # a: first 3.2 s = 80 frames, every 3rd fitted; b: 25 frames, too few for 16 fits at stride 3 -> every frame
    assert [i.id for i in items] == ["a", "b"] and fitted == [(27, 25 / 3), (25, 25.0)]
    assert (len(decode_video(items[0].ref)[0]), len(decode_video(items[0].gt)[0])) == (40, 40)
    assert abs(len(decode_audio(items[0].gt)[0]) / 24000 - 1.6) < 0.05
    with np.load(items[0].ref_codes) as r, np.load(items[0].gt_codes) as g:  # fitted frames 0, 3, ..., 39 | 42, ...
        assert r["codes"][:, 0].tolist() == list(range(14)) and g["codes"][0, 0] == 14 and len(g["codes"]) == 13
        assert float(g["fps"]) == 25 / 3
    build_from_halves(clips, tmp_path / "set", max_seconds=3.2, code_stride=3)  # rerun: nothing is refitted
    assert len(fitted) == 2


def test_report_tables_carry_dnsmos_and_the_landmark_sync_peak():
    summary = {"system": "ground_truth", "items": 1, "metrics": {
        "dnsmos": {"values": {"dnsmos_ovrl": 3.25}, "info": {}, "measured": 1, "errors": {}},
        "sync_landmark": {"values": {"sync_landmark_peak": 0.375, "sync_landmark_confidence": 0.125}, "info": {},
                          "measured": 1, "errors": {}}}}
    text = render_report([summary])
    table1 = text.split("## Table 1")[1].split("## Table 2")[0]
    table2 = text.split("## Table 2")[1].split("## Table 4")[0]
    assert "| DNSMOS |" in table1 and "| ground_truth | 3.250 |" in table1
    assert "Sync-L r (landmark, not Sync-C)" in table2 and "| ground_truth | 0.375 |" in table2


# ------------------------------------------------------------------------------------------------ real generation
@pytest.mark.slow
def test_generate_mode_through_the_real_pipeline(synthetic_tiny, tmp_path):
    """system=generate with the tiny trained DiT + random renderer: one video item and one audio-only (Seed-TTS)
    item, scored on the DiT's codes, with FPS per stage; the second run regenerates nothing."""
    from hydra import compose, initialize_config_dir

    from omnitalker.face.face_model import FaceModel
    from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig
    from omnitalker.render.checkpoint import save_renderer
    from omnitalker.render.config import small_config
    from omnitalker.render.renderer import Renderer
    from omnitalker.training.run import train

    out, _ = synthetic_tiny  # trained like tests/test_inference_e2e.py's smoke models (1 step: mechanics only)
    root = Path(__file__).resolve().parents[1]
    run = tmp_path / "dit"
    args = ["model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={out / 'corpus'}", f"paths.output_dir={run}",
            "data.num_workers=0", "data.max_frames=2000", "trainer.max_steps=1", "trainer.enable_progress_bar=false",
            "callbacks.sample_logger.every_n_steps=0", "callbacks.model_checkpoint.every_n_train_steps=1"]
    with initialize_config_dir(config_dir=str(root / "configs"), version_base="1.3"):
        train(compose("train", overrides=args))
    renderer = save_renderer(Renderer(small_config(), FaceModel.default()).eval(), run / "renderer")
    pipeline = OmniTalkerPipeline(PipelineConfig(str(run / "checkpoints" / "last.ckpt"), str(renderer),
                                                 vocoder="griffin_lim", device="cpu", sampler={"steps": 2},
                                                 crop="none"))
    clip = min((out / "clips").glob("synth_en_*.mp4"))
    truth = out / "ground_truth" / f"{clip.stem}.npz"
    text = str(np.load(truth)["text"])
    manifest = tmp_path / "set.jsonl"
    manifest.write_text(json.dumps({"id": "v0", "ref": str(clip), "ref_text": text, "text": "Hello there.",
                                    "ref_codes": str(truth)}) + "\n")
    options = RunOptions(system="generate", metrics={"motion": {"codes": "dit"}}, progress=False, plots=False)
    evaluation = Evaluation(load_testset(manifest), tmp_path / "video", options, str(manifest), pipeline)
    summary = evaluation.run()
    assert evaluation.counts["motion"]["computed"] == 1
    assert (tmp_path / "video" / "items" / "v0" / "generated.mp4").is_file()
    speed = summary["speed"]
    assert speed["fps_end_to_end"] > 0 and {"fps_dit", "fps_renderer", "fps_vocoder"} <= set(speed)
    assert "FPS" in (tmp_path / "video" / "report.md").read_text()

    # audio only: Seed-TTS list, reference speech without a face, visual condition dropped
    sf.write(tmp_path / "prompt.wav", pipeline.analyse_reference(clip, text, truth).clip.audio, 24000)
    (tmp_path / "meta.lst").write_text(f"a0|{text}|prompt.wav|Good morning.\n")
    options = RunOptions(system="generate", metrics={}, progress=False, plots=False)
    audio = Evaluation(load_testset(tmp_path / "meta.lst"), tmp_path / "audio", options, "meta.lst", pipeline)
    summary = audio.run()
    wav, rate = sf.read(tmp_path / "audio" / "items" / "a0" / "generated.wav")
    assert rate == 24000 and len(wav) > 2400 and summary["speed"]["rtf"] > 0
    mtime = (tmp_path / "audio" / "items" / "a0" / "generated.wav").stat().st_mtime_ns
    Evaluation(load_testset(tmp_path / "meta.lst"), tmp_path / "audio", options, "meta.lst", pipeline).run()
    assert (tmp_path / "audio" / "items" / "a0" / "generated.wav").stat().st_mtime_ns == mtime  # not regenerated


def test_build_from_corpus_pairs_clips_of_one_held_out_source(tmp_path):
    from corpus_factory import make_record, write_corpus

    from omnitalker.inference.media import decode_audio

    rng = np.random.default_rng(0)
    video = tiny_video(tmp_path / "v.mp4", seconds=1.0).read_bytes()
    records = [make_record(rng, f"c{i}", f"src{i // 2}", seconds=1.0, fps=25.0, video=video) for i in range(5)]
    corpus = write_corpus(tmp_path / "corpus", records)
    manifest = build_from_corpus(corpus, tmp_path / "set", val_fraction=1.0, seed=0)
    items = read_manifest(manifest)
    assert len(items) == 2  # src0 and src1 have two clips each; src2 has one
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    by_id = {r.clip_id: r for r in records}
    for row, it in zip(rows, items):
        ref_id = it.ref.stem
        assert by_id[ref_id].source_id == by_id[it.id].source_id == row["source_id"] and ref_id != it.id
        assert it.text == by_id[it.id].text and it.ref_text == by_id[ref_id].text
        audio, _ = decode_audio(it.gt)
        assert abs(len(audio) - 24000) < 2400  # the target clip's own audio, muxed with its video
        codes, fps = np.load(it.gt_codes)["codes"], float(np.load(it.gt_codes)["fps"])
        np.testing.assert_allclose(codes, by_id[it.id].codes)
        assert fps == 25.0
    with pytest.raises(TestSetError, match="no held-out source"):
        build_from_corpus(corpus, tmp_path / "none", val_fraction=0.0)


def test_mean_motion_is_rendered_when_a_renderer_is_given(tmp_path):
    from omnitalker.face.face_model import FaceModel
    from omnitalker.render.checkpoint import save_renderer
    from omnitalker.render.config import small_config
    from omnitalker.render.renderer import Renderer

    for name in ("ref", "gt"):  # one short item (0.4 s): rendering cost is per frame
        tiny_video(tmp_path / f"{name}.mp4", seconds=0.4)
        save_codes(tmp_path / f"{name}.npz", style_track(0.4, **CALM, seed=len(name)))
    manifest = tmp_path / "set.jsonl"
    manifest.write_text(json.dumps({"id": "a", "ref": "ref.mp4", "ref_text": "hi", "text": "hello", "gt": "gt.mp4",
                                    "ref_codes": "ref.npz", "gt_codes": "gt.npz"}) + "\n")
    items = load_testset(manifest)
    renderer = save_renderer(Renderer(small_config(), FaceModel.default()).eval(), tmp_path / "renderer")
    options = RunOptions(system="mean_motion", metrics={"pfid": {"codes": "dit"}}, renderer=str(renderer),
                         progress=False)
    evaluation = Evaluation(items, tmp_path / "mean", options, str(manifest))
    generated = evaluation.eval_item(items[0]).generated
    n = generated.codes.shape[0]  # the target's length (0.4 s; the muxed audio may add a frame)
    assert n in (10, 11) and generated.frames.shape == (n, 128, 128, 3) and generated.fps == 25.0
    assert generated.frames.std() > 0  # drawn, not blank
    np.testing.assert_allclose(generated.codes, np.repeat(evaluation.mean_code()[None], n, 0))


def test_an_unreadable_output_fails_its_item_only(tiny_set, tmp_path):
    manifest, peer = tiny_set
    items = load_testset(manifest)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for name in ("item0.mp4", "item0.npz"):
        (outputs / name).write_bytes((peer / name).read_bytes())
    (outputs / "item1.mp4").write_bytes(b"not a video")
    options = RunOptions(system="generated", metrics={"pfid": {"codes": "dit"}}, generated_dir=str(outputs),
                         progress=False, plots=False)
    summary = Evaluation(items, tmp_path / "run", options, str(manifest)).run()
    assert list(summary["failed_items"]) == ["item1"] and summary["metrics"]["pfid"]["measured"] == 1
    assert "(item item1)" in (tmp_path / "run" / "report.md").read_text()
