"""Data preparation over a folder or a list of videos -> training corpus (SPEC §8). Resumable and parallel.

    python -m data_prep.prepare inputs=[/data/videos] out=/data/prep workers=2 [asr.language=en] [dnsmos=false]
    python -m data_prep.prepare dataset=voxceleb2 inputs=[/data/vox2/dev/mp4] out=/data/prep_vox2

- inputs: video files, folders (searched recursively for video files), or .txt files listing one video per line.
- dataset: how to read the inputs' layout (`data_prep/datasets.py`): folder (default; each file its own source
  video), voxceleb2, celebvhq, talkinghead1kh (speaker and source-video ids from the paths / metadata).
- Resume: a video whose done/<id>.json exists is skipped; a half-finished one (no done-marker) is redone from
  scratch (its partial sub-corpus is deleted). Every rejection is in rejections/<id>.jsonl with its reason.
- Parallel on one machine: `workers=N` local processes (concurrent.futures, spawn). Across machines, run the same
  command as N independent jobs on a shared filesystem with `shard=i/N` (job i handles videos i, i+N, ...): e.g. a
  SLURM array `#SBATCH --array=0-63` with `shard=${SLURM_ARRAY_TASK_ID}/64`, or one Ray task per shard
  (`ray.remote(lambda i: subprocess.run([... f"shard={i}/64"]))`). Shards never write the same files. Afterwards,
  `summarize_only=true` rebuilds summary.json and the plots; the corpus is `out/corpus` (CorpusReader reads the
  parent folder of the per-video sub-corpora, `omnitalker.data.corpus.merge_corpora` makes one corpus of it).
- Exit status: 0 when every video of this run finished (accepted or rejected with a reason: a broken file, no
  face, ... are outcomes, logged in rejections/); 1 when any video FAILED with an unexpected error (printed, no
  done-marker: the next run retries it) or when not one clip was accepted from any video of the output folder.
  The last line on stderr then gives the count, e.g. "prepare: 3 of 1000 videos failed ...". A re-run of a job
  that exited 1 resumes and retries only the failed videos. 2: bad arguments.
"""

from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from data_prep.config import PrepConfig
from data_prep.datasets import LayoutError, VideoItem, list_videos
from data_prep.process_video import VideoProcessor, video_id_for, write_text_atomic
from data_prep.report import summarize

_PROCESSOR: VideoProcessor | None = None


def select_shard(videos: list, shard: str) -> list:
    try:
        index, count = (int(x) for x in shard.split("/"))
    except ValueError as exc:
        raise ValueError(f"shard must look like 'i/n', got {shard!r}") from exc
    if not 0 <= index < count:
        raise ValueError(f"shard index must be in [0, {count}), got {index}")
    return videos[index::count]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _process(video: str, config_yaml: str, source_id: str | None = None, speaker_id: str | None = None,
             audio_path: str | None = None) -> dict:
    """Entry point of a worker process (keeps the loaded models between videos)."""
    global _PROCESSOR
    if _PROCESSOR is None:
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PrepConfig), OmegaConf.create(config_yaml)))
        _PROCESSOR = VideoProcessor(config)
    try:
        return _PROCESSOR.process(video, source_id=source_id, speaker_id=speaker_id, audio_path=audio_path)
    # an unexpected bug in one video must not stop the run; it leaves no done-marker, so the next run retries it
    except Exception:  # noqa: BLE001
        return {"video": video, "error": traceback.format_exc()}


def _layout(item: VideoItem) -> dict:
    """The keyword arguments of `_process` that a dataset layout sets (none for plain files)."""
    ids = {"source_id": item.source_id, "speaker_id": item.speaker_id,
           "audio_path": str(item.audio_path) if item.audio_path else None}
    return {k: v for k, v in ids.items() if v is not None}


def run(config: PrepConfig) -> dict:
    out = Path(config.out)
    # the layout is read first: an input that does not match `dataset` (LayoutError) leaves nothing behind
    listing = None if config.summarize_only else list_videos(config.dataset, config.inputs, config.dataset_info)
    out.mkdir(parents=True, exist_ok=True)
    if listing is not None:
        write_text_atomic(
            out / f"config.{config.shard.replace('/', 'of')}.yaml", OmegaConf.to_yaml(OmegaConf.structured(config))
        )
        for note in listing.notes:
            print(note, file=sys.stderr)
        videos = select_shard(listing.items, config.shard)
        todo = [v for v in videos if not (out / "done" / f"{video_id_for(v.path)}.json").is_file()]
        print(f"{len(videos)} videos in this shard, {len(videos) - len(todo)} already done, {len(todo)} to process")
        config_yaml = OmegaConf.to_yaml(OmegaConf.structured(config))
        errors = []
        if config.workers <= 1:
            _worker_init()
            results = (_process(str(v.path), config_yaml, **_layout(v)) for v in todo)
            for result in tqdm(results, total=len(todo), desc="videos", unit="video"):
                if "error" in result:
                    errors.append(result)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(config.workers, mp_context=ctx, initializer=_worker_init) as pool:
                futures = [pool.submit(_process, str(v.path), config_yaml, **_layout(v)) for v in todo]
                for future in tqdm(as_completed(futures), total=len(futures), desc="videos", unit="video"):
                    result = future.result()
                    if "error" in result:
                        errors.append(result)
        for e in errors:
            print(f"FAILED (will be retried on the next run): {e['video']}\n{e['error']}", file=sys.stderr)
    summary = summarize(out)
    print(OmegaConf.to_yaml(OmegaConf.create({k: v for k, v in summary.items() if k != "distributions"})))
    if not config.summarize_only:  # this run's counts (not part of summary.json, which covers all runs/shards)
        summary.update(processed_this_run=len(todo), failed_this_run=[e["video"] for e in errors])
    return summary


def exit_status(summary: dict) -> tuple[int, str | None]:
    """(exit status, closing message for stderr) of a run: see the module docstring."""
    failed = summary.get("failed_this_run", [])
    processed = summary.get("processed_this_run", 0)
    if failed:
        return 1, (
            f"prepare: {len(failed)} of {processed} videos failed with an error (tracebacks above; they have no "
            "done-marker, so re-running the same command retries them)"
        )
    if summary["clips"] == 0 and summary["videos_done"] > 0:
        reasons = ", ".join(f"{k} x{v}" for k, v in list(summary["rejection_reasons"].items())[:5]) or "none"
        return 1, (
            f"prepare: no clip accepted from any of {summary['videos_done']} videos (rejections: {reasons}; "
            "details in rejections/*.jsonl)"
        )
    return 0, None


def main(argv: list[str]) -> int:
    try:
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PrepConfig), OmegaConf.from_dotlist(argv)))
    except OmegaConfBaseException as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    if not config.inputs and not config.summarize_only:
        print("error: give inputs=[video files or folders] out=<output folder>", file=sys.stderr)
        return 2
    try:
        select_shard([], config.shard)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        summary = run(config)
    except LayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status, message = exit_status(summary)
    if message:
        print(message, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
