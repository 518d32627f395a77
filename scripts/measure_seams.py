"""Seams of long-text inference: the pose / expression jump where one chunk ends and the next begins, as a percentile
of the frame-to-frame changes inside the chunks (SPEC §5, long text; issue 9 §4).

    python scripts/measure_seams.py --build-smoke runs/seams_smoke      # smoke DiT + renderer on the synthetic corpus
    python scripts/measure_seams.py --dit X.ckpt --renderer R --ref clip.mp4 --ref-codes clip.npz --ref-text "..."
    ... --model continuation   # replace the DiT sampler by a model that continues its prompt smoothly

It runs the real pipeline (`OmniTalkerPipeline.generate`, codes written at the video rate, what the renderer is
driven with) on a ~60 s text and reports, per seam, the largest change within one frame of the seam and its
percentile among the within-chunk changes (`omnitalker.inference.seams.seam_jumps`). Seams lie where the chunks'
planned durations put them (the same rule the pipeline uses), so it measures any version of the pipeline.

`--model continuation` isolates the joining mechanism from the model's quality: an untrained or smoke DiT draws
noise, whose every frame-to-frame change is a "jump", so seams cannot stand out. `ContinuationSampler` instead
draws, after the prompt, smooth trajectories that start at the prompt's last frame (what a trained model does); a
pipeline that restarts each chunk from the reference then shows its seams, one that continues the previous chunk
does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # data_prep/ is a top-level folder of the repo

from omnitalker.constants import EXPRESSION_SLICE, MEL_FPS, POSE_SLICE
from omnitalker.inference.duration import plan_duration
from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig, ReferenceAnalysis
from omnitalker.inference.seams import seam_jumps

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = (
    "The committee met on a grey morning to review the plans for the new bridge.",
    "Several engineers argued that the old design would not survive another winter.",
    "After a long discussion, they agreed to test two models in the river next spring.",
    "Everyone left the room with a list of questions and a little more hope than before.",
)


class ContinuationSampler:
    """Stand-in for `FlowSampler` (same `sample` signature) that continues each prompt smoothly in position and
    velocity: generated frame s (s = 1, 2, ...) is ``last + A * (sin(w s + phi) - sin(phi))`` per channel, with fixed
    per-channel periods of 1-3 s, amplitude ``amplitude`` (normalised units), and ``cos(phi)`` matching the prompt's
    last step (its sign of ``sin(phi)`` drawn from the row's seed). Used only to measure seams."""

    def __init__(self, amplitude: float = 0.5) -> None:
        self.amplitude = amplitude

    @torch.no_grad()
    def sample(self, context_audio, context_visual, reference_lengths, total_lengths, text, seeds=None):
        outputs = []
        seeds = seeds if seeds is not None else list(range(context_audio.shape[0]))
        for context in (context_audio, context_visual):
            out = context.clone()  # (b, n, d)
            d = context.shape[-1]
            omega = 2 * np.pi / (MEL_FPS * np.random.default_rng(d).uniform(1.0, 3.0, d))  # (d,) rad / mel frame
            for row, (r, t, seed) in enumerate(zip(reference_lengths.tolist(), total_lengths.tolist(), seeds)):
                last = context[row, r - 1].double().numpy()  # (d,)
                velocity = last - context[row, max(r - 2, 0)].double().numpy()  # (d,) the prompt's last step
                cos_phi = np.clip(velocity / (self.amplitude * omega), -1.0, 1.0)
                sign = np.where(np.random.default_rng([int(seed), d]).random(d) < 0.5, -1.0, 1.0)
                phi = np.arctan2(sign * np.sqrt(1.0 - cos_phi**2), cos_phi)  # (d,)
                s = np.arange(1, t - r + 1)[:, None]  # (t - r, 1)
                path = self.amplitude * (np.sin(omega * s + phi) - np.sin(phi))  # (t - r, d)
                out[row, r:t] = torch.from_numpy(last + path).to(context)
                out[row, t:] = 0.0
            outputs.append(out)
        return outputs[0], outputs[1]


def long_text(reference: ReferenceAnalysis, seconds: float) -> str:
    """Sentences repeated until the duration rule gives at least ``seconds`` of speech."""
    sentences: list[str] = []
    while True:
        sentences.append(SENTENCES[len(sentences) % len(SENTENCES)])
        text = " ".join(sentences)
        if plan_duration(reference.text, text, reference.mel.shape[0]).new_seconds >= seconds:
            return text


def seam_frames(reference: ReferenceAnalysis, chunks: list[str], fps: float) -> list[int]:
    """Video frame where each chunk after the first starts (cumulative planned durations)."""
    frames = [plan_duration(reference.text, c, reference.mel.shape[0]).new_frames for c in chunks]
    return [round(f / MEL_FPS * fps) for f in np.cumsum(frames)[:-1]]


def measure(pipeline: OmniTalkerPipeline, reference: ReferenceAnalysis, text: str, workdir: Path) -> dict:
    """Generate ``text`` and measure every seam in pose and expression."""
    codes_path = workdir / "seams_codes.npz"
    result = pipeline.generate(text, reference, workdir / "seams.mp4", codes_out=codes_path, progress=False)
    codes = np.load(codes_path)["codes"]  # (T, 61) at the video rate
    seams = seam_frames(reference, result.chunks, pipeline.cfg.fps)
    report = {"seconds": round(result.duration_s, 2), "chunks": len(result.chunks), "seam_frames": seams}
    for name, channels in (("pose", POSE_SLICE), ("expression", EXPRESSION_SLICE)):
        report[name] = seam_jumps(codes, seams, channels) if seams else None
    return report


def build_smoke(out: Path) -> tuple[Path, Path, Path, Path, str]:
    """The tests' smoke models: synthetic tiny corpus, tiny DiT trained 2 steps, random small renderer.
    Returns (dit, renderer, reference clip, its ground-truth codes, its transcript)."""
    from data_prep.synthetic.generate import PRESETS, SyntheticCorpusConfig, generate_corpus
    from hydra import compose, initialize_config_dir

    from omnitalker.face.face_model import FaceModel
    from omnitalker.render.checkpoint import save_renderer
    from omnitalker.render.config import small_config
    from omnitalker.render.renderer import Renderer
    from omnitalker.training.run import train

    corpus = out / "synthetic"
    if not (corpus / "corpus").exists():
        generate_corpus(SyntheticCorpusConfig(out=str(corpus), progress=False, **PRESETS["tiny"]))
    dit = out / "dit" / "checkpoints" / "last.ckpt"
    if not dit.exists():
        args = ["model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={corpus / 'corpus'}",
                f"paths.output_dir={out / 'dit'}", "data.num_workers=0", "data.max_frames=2000", "trainer.max_steps=2",
                "trainer.enable_progress_bar=false", "callbacks.sample_logger.every_n_steps=0",
                "callbacks.model_checkpoint.every_n_train_steps=2"]
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
            train(compose("train", overrides=args))
    renderer = out / "renderer"
    if not renderer.exists():
        torch.manual_seed(0)
        save_renderer(Renderer(small_config(), FaceModel.default()).eval(), renderer)
    clip = sorted((corpus / "clips").glob("synth_en_*.mp4"))[0]
    truth = corpus / "ground_truth" / f"{clip.stem}.npz"
    return dit, renderer, clip, truth, str(np.load(truth)["text"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-smoke", type=Path, help="build (or reuse) the smoke models and reference here")
    parser.add_argument("--dit"), parser.add_argument("--renderer"), parser.add_argument("--ref")
    parser.add_argument("--ref-codes"), parser.add_argument("--ref-text")
    parser.add_argument("--model", choices=("dit", "continuation"), default="dit")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the text to speak")
    parser.add_argument("--max-total-seconds", type=float, default=30.0, help="the model's context budget")
    parser.add_argument("--steps", type=int, default=4), parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crop", default="none"), parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.build_smoke:
        args.dit, args.renderer, args.ref, args.ref_codes, args.ref_text = build_smoke(args.build_smoke)
    if not (args.dit and args.renderer and args.ref):
        parser.error("give --build-smoke DIR, or --dit, --renderer and --ref")
    pipeline = OmniTalkerPipeline(PipelineConfig(
        str(args.dit), str(args.renderer), vocoder="griffin_lim", device="cpu", sampler={"steps": args.steps},
        crop=args.crop, max_total_seconds=args.max_total_seconds, video_size=128, seed=args.seed))
    if args.model == "continuation":
        pipeline.generator.sampler = ContinuationSampler()
    reference = pipeline.analyse_reference(args.ref, args.ref_text, args.ref_codes)
    text = long_text(reference, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        report = measure(pipeline, reference, text, Path(tmp))
    report["model"] = args.model
    for name in ("pose", "expression"):
        r = report[name]
        if r:
            print(f"{name:10s} seam percentiles {[round(p, 1) for p in r['percentiles']]} (median "
                  f"{np.median(r['percentiles']):.1f}, max {max(r['percentiles']):.1f}); within-chunk p50 "
                  f"{r['within_p50']:.4f} p99 {r['within_p99']:.4f}; seam jumps {[round(j, 4) for j in r['jumps']]}")
    print(f"{report['seconds']} s, {report['chunks']} chunks, model={args.model}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
