"""Benchmark the training-data path: corpus write/open/random-read throughput and batch-plan time.

Usage: python scripts/benchmark_corpus.py --clips 20000 --sampler-items 1000000 [--root /tmp/bench_corpus]
Clips are short synthetic ones (mel only, no audio) so the numbers measure the format's overheads, not disk
bandwidth. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from omnitalker.constants import CODE_DIM, N_MELS
from omnitalker.data.batching import DynamicFrameBatchSampler
from omnitalker.data.corpus import ClipRecord, CorpusReader, CorpusWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20_000)
    parser.add_argument("--mel-frames", type=int, default=94, help="frames per synthetic clip (1 s)")
    parser.add_argument("--reads", type=int, default=5_000)
    parser.add_argument("--sampler-items", type=int, default=1_000_000)
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    root = args.root or Path(tempfile.mkdtemp(prefix="bench_corpus_"))
    shutil.rmtree(root, ignore_errors=True)

    mel = rng.normal(-4, 2, (args.mel_frames, N_MELS)).astype(np.float32)
    codes = rng.random((round(args.mel_frames * 30 / 93.75), CODE_DIM)).astype(np.float32)
    start = time.perf_counter()
    with CorpusWriter(root, shard_size_mb=64) as writer:
        for i in range(args.clips):
            writer.add(ClipRecord(f"clip{i:08d}", f"src{i // 20}", f"spk{i // 200}", "en", "hello world " * 3,
                                  codes, 30.0, None, mel, quality={"dnsmos_ovrl": 3.0}))
    elapsed = time.perf_counter() - start
    print(f"write: {args.clips / elapsed:,.0f} clips/s ({args.clips} clips, {elapsed:.2f} s)")

    start = time.perf_counter()
    reader = CorpusReader(root)
    elapsed = time.perf_counter() - start
    print(f"open (index only): {elapsed:.3f} s for {len(reader)} clips in {reader.num_shards} shards")

    order = rng.integers(0, len(reader), size=args.reads)
    start = time.perf_counter()
    for i in order:
        reader.read_arrays(int(i), ("codes", "mel"))
    elapsed = time.perf_counter() - start
    print(f"random read codes+mel: {args.reads / elapsed:,.0f} clips/s (page cache warm)")

    lengths = rng.integers(100, 3000, size=args.sampler_items)
    for bucket in (1, 2048):
        sampler = DynamicFrameBatchSampler(lengths, max_frames=12_800, num_replicas=8, bucket_size=bucket)
        start = time.perf_counter()
        num_batches = len(sampler)
        elapsed = time.perf_counter() - start
        print(f"sampler plan ({args.sampler_items:,} items, bucket_size={bucket}): {elapsed:.2f} s, "
              f"{num_batches} batches/rank, padding {sampler.padding_fraction:.1%}")
    if args.root is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
