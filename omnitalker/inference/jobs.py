"""Batch inference jobs from a CSV or JSONL file (columns/keys: text, ref, out, optional ref_text, ref_codes)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from omnitalker.inference.errors import InferenceInputError


@dataclass
class Job:
    text: str
    ref: str
    out: str
    ref_text: str | None = None
    ref_codes: str | None = None


def read_jobs(path: str | Path) -> list[Job]:
    path = Path(path)
    if not path.is_file():
        raise InferenceInputError(f"batch file not found: {path}")
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        else:
            raise InferenceInputError(f"batch file must be .csv or .jsonl, got {path.name}")
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise InferenceInputError(f"cannot parse batch file {path}: {exc}") from exc
    jobs = []
    for k, row in enumerate(rows, start=1):
        missing = [key for key in ("text", "ref", "out") if not row.get(key)]
        if missing:
            raise InferenceInputError(f"{path}: job {k} lacks {missing}")
        jobs.append(Job(row["text"], row["ref"], row["out"], row.get("ref_text") or None, row.get("ref_codes") or None))
    if not jobs:
        raise InferenceInputError(f"batch file {path} holds no job")
    return jobs
