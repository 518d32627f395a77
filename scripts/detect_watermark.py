#!/usr/bin/env python
"""Check media files for OmniTalker's imperceptible watermarks (audio and video separately).

    python scripts/detect_watermark.py out.mp4 [more files or folders ...] [--key KEY] [--max-seconds S] [--json]

Prints "found" / "not found" with the score and threshold per stream. The key defaults to $OMNITALKER_WATERMARK_KEY,
else the project's public key. Exit status: 0 = all files checked, 2 = a file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from omnitalker.inference.errors import InferenceInputError
from omnitalker.inference.watermark import detect_watermark

MEDIA_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg"}


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            files.extend(sorted(p for p in item.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES))
        else:
            files.append(item)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="media files or folders")
    parser.add_argument("--key", default=None, help="watermark key (default: $OMNITALKER_WATERMARK_KEY or public key)")
    parser.add_argument("--max-seconds", type=float, default=None, help="only analyse the first S seconds")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    args = parser.parse_args(argv)
    status = 0
    for path in _expand(args.paths):
        try:
            report = detect_watermark(path, args.key, max_seconds=args.max_seconds)
        except InferenceInputError as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(json.dumps(report.to_dict()) if args.json else report.summary(), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
