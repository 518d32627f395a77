"""Generate the synthetic talking-head corpus (speech + codes + rendered mp4 clips + training shards).

    python scripts/make_synthetic_corpus.py out=data/synthetic num_speakers=4 sources_per_speaker=3 \
        clips_per_source=6 seed=0 [preset=tiny|default|medium|study] [overwrite=true] [num_threads=2]
    python scripts/make_synthetic_corpus.py out=data/study preset=study workers=2 ranges.head_freq=0.3,1.2

Arguments are key=value pairs; every field of `SyntheticCorpusConfig` can be set, `preset` picks a starting point
(explicit keys override it); `ranges.NAME=LOW,HIGH` sets one range of the sampled speaker styles (`StyleRanges`). What the corpus is and is not: docs/synthetic_corpus.md.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # data_prep/ is a top-level folder of the repo

from data_prep.synthetic.generate import (
    PRESETS,
    SyntheticCorpusConfig,
    SyntheticCorpusError,
    generate_corpus,
)
from data_prep.synthetic.style import StyleRanges

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _parse_value(key: str, raw: str, kind: type) -> object:
    if kind is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise SyntheticCorpusError(f"{key} expects true/false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise SyntheticCorpusError(f"{key} expects a value of type {kind.__name__}, got {raw!r}") from None


def parse_args(argv: list[str]) -> SyntheticCorpusConfig:
    """key=value arguments (and an optional preset=NAME) -> config."""
    fields = {f.name: f for f in dataclasses.fields(SyntheticCorpusConfig) if f.name != "ranges"}
    kinds = {name: type(f.default) for name, f in fields.items()}
    range_names = {f.name for f in dataclasses.fields(StyleRanges)}
    pairs: dict[str, str] = {}
    ranges: dict[str, tuple[float, float]] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if not sep or not key:
            raise SyntheticCorpusError(f"arguments must look like key=value, got {arg!r}")
        if key.startswith("ranges."):
            ranges[key[len("ranges."):]] = _parse_range(key, value, range_names)
            continue
        if key != "preset" and key not in fields:
            raise SyntheticCorpusError(f"unknown option {key!r}; valid: preset, ranges.NAME, {', '.join(fields)}")
        pairs[key] = value
    preset = pairs.pop("preset", "default")
    if preset not in PRESETS:
        raise SyntheticCorpusError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = dict(PRESETS[preset])
    values.update({key: _parse_value(key, raw, kinds[key]) for key, raw in pairs.items()})
    values["ranges"] = dataclasses.replace(values.get("ranges", StyleRanges()), **ranges)
    return SyntheticCorpusConfig(**values)


def _parse_range(key: str, raw: str, names: set[str]) -> tuple[float, float]:
    name = key[len("ranges."):]
    if name not in names:
        raise SyntheticCorpusError(f"unknown style range {name!r}; valid: {', '.join(sorted(names))}")
    try:
        low, high = (float(part) for part in raw.split(","))
    except ValueError:
        raise SyntheticCorpusError(f"{key} expects LOW,HIGH (two numbers), got {raw!r}") from None
    return low, high


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        print("options (default):")
        for f in dataclasses.fields(SyntheticCorpusConfig):
            if f.name != "ranges":
                print(f"  {f.name}={f.default}")
        for f in dataclasses.fields(StyleRanges):
            low, high = f.default
            print(f"  ranges.{f.name}={low},{high}")
        return 0
    try:
        config = parse_args(argv)
        summary = generate_corpus(config)
    except SyntheticCorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {summary['num_clips']} clips from {summary['num_sources']} source videos "
          f"({summary['total_seconds'] / 60:.1f} min of audio) to {config.out} "
          f"in {summary['generation_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
