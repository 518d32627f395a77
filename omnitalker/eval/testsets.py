"""Test-set formats: what to generate (text), from which reference, and the ground truth to compare with.

- Seed-TTS-eval list (``*.lst`` / ``*.txt``): ``utt|prompt_text|prompt_wav|infer_text[|gt_wav]`` per line, audio
  only (the paper's Table 1: the model runs with the reference visual dropped). Paths are relative to the list.
- JSONL video manifest (``*.jsonl``): one object per line with ``id, ref, ref_text, text`` and optionally ``gt``
  (ground-truth video of ``text``), ``language``, ``ref_codes`` / ``gt_codes`` (npz with ``codes`` (T, 61) and
  ``fps`` from scripts/extract_codes.py). Paths are relative to the manifest.
- :func:`build_from_corpus` writes such a manifest from a prepared corpus (docs/corpus_format.md): reference and
  target are two clips cut from the same source video, and only sources held out from training are used.

Every problem is a :class:`TestSetError` naming the file and line.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
CJK = re.compile(r"[\u3400-\u9fff]")


class TestSetError(ValueError):
    """A test set cannot be read or built (the message names the file and line)."""

    __test__ = False  # not a pytest class


@dataclass
class TestItem:
    __test__ = False  # not a pytest class

    id: str
    text: str  # what to say
    ref: Path  # reference video (or speech, for audio-only sets)
    ref_text: str
    gt: Path | None = None  # ground truth of `text` (video, or speech for audio-only sets)
    language: str = "en"
    audio_only: bool = False
    ref_codes: Path | None = None
    gt_codes: Path | None = None


def guess_language(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


def _check_id(item_id: str, where: str, seen: set[str]) -> None:
    if not SAFE_ID.match(item_id):
        raise TestSetError(f"{where}: item id {item_id!r} must be letters, digits, '.', '_' or '-' (it names files)")
    if item_id in seen:
        raise TestSetError(f"{where}: duplicate item id {item_id!r}")
    seen.add(item_id)


def _existing(base: Path, value: str, where: str, what: str) -> Path:
    path = Path(value) if Path(value).is_absolute() else base / value
    if not path.is_file():
        raise TestSetError(f"{where}: {what} file {path} not found")
    return path


def read_seedtts(path: str | Path) -> list[TestItem]:
    """A Seed-TTS-eval meta list (``utt|prompt_text|prompt_wav|infer_text[|gt_wav]``)."""
    path = Path(path)
    items, seen = [], set()
    for where, line in _lines(path):
        fields = [f.strip() for f in line.split("|")]
        if len(fields) not in (4, 5):
            raise TestSetError(f"{where}: expected utt|prompt_text|prompt_wav|infer_text[|gt_wav], got "
                               f"{len(fields)} fields")
        utt, prompt_text, prompt_wav, text = fields[:4]
        _check_id(utt, where, seen)
        if not text:
            raise TestSetError(f"{where}: empty infer_text")
        gt = _existing(path.parent, fields[4], where, "gt_wav") if len(fields) == 5 and fields[4] else None
        items.append(TestItem(utt, text, _existing(path.parent, prompt_wav, where, "prompt_wav"), prompt_text, gt,
                              guess_language(text), audio_only=True))
    return _nonempty(items, path)


def read_manifest(path: str | Path) -> list[TestItem]:
    """A JSONL video manifest (``id, ref, ref_text, text`` [, ``gt``, ``language``, ``ref_codes``, ``gt_codes``])."""
    path = Path(path)
    items, seen = [], set()
    for where, line in _lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TestSetError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise TestSetError(f"{where}: each line must be a JSON object")
        missing = [k for k in ("id", "ref", "text") if not isinstance(row.get(k), str) or not row[k].strip()]
        if missing:
            raise TestSetError(f"{where}: missing or empty {', '.join(missing)}")
        _check_id(row["id"], where, seen)
        opt = {k: _existing(path.parent, row[k], where, k) if row.get(k) else None
               for k in ("gt", "ref_codes", "gt_codes")}
        items.append(TestItem(row["id"], row["text"], _existing(path.parent, row["ref"], where, "ref"),
                              str(row.get("ref_text") or ""), opt["gt"], str(row.get("language") or
                                                                            guess_language(row["text"])),
                              ref_codes=opt["ref_codes"], gt_codes=opt["gt_codes"]))
    return _nonempty(items, path)


def load_testset(path: str | Path) -> list[TestItem]:
    """Dispatch on the extension: ``.jsonl`` = video manifest, ``.lst`` / ``.txt`` = Seed-TTS-eval list."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_manifest(path)
    if path.suffix in (".lst", ".txt"):
        return read_seedtts(path)
    raise TestSetError(f"{path}: unknown test-set format (use .jsonl for a video manifest, .lst for a Seed-TTS list)")


def _lines(path: Path) -> list[tuple[str, str]]:
    """The non-blank lines of a test-set file, each with its ``file:line`` for error messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TestSetError(f"test set {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TestSetError(f"cannot read the test set {path}: {exc}") from None
    return [(f"{path}:{n}", line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _nonempty(items: list[TestItem], path: Path) -> list[TestItem]:
    if not items:
        raise TestSetError(f"{path}: no items")
    return items


# ---------------------------------------------------------------------------------------------- corpus builder
def build_from_corpus(corpus: str | Path, out_dir: str | Path, val_fraction: float = 0.05, max_items: int = 100,
                      seed: int = 0, min_seconds: float = 1.0, max_ref_seconds: float = 10.0) -> Path:
    """Write ``out_dir/testset.jsonl`` (+ reference / target mp4 and codes npz per item) from a prepared corpus.

    Sources are held out by the hash rule the trainers' ``split_by=source_id`` uses (``val_fraction``); per held-out
    source, two clips with stored video and audio become one item: reference (1..max_ref_seconds) and target. The
    stored videos are face crops: generate with ``crop=none``.
    """
    from omnitalker.data.corpus import CorpusReader
    from omnitalker.inference.media import decode_video
    from omnitalker.inference.mux import write_video
    from omnitalker.render.data import _in_val

    out = Path(out_dir)
    reader = CorpusReader(corpus)
    by_source: dict[str, list[int]] = {}
    for i in range(len(reader)):
        meta = reader.index[i]
        if meta.has_video and meta.has_audio and meta.duration >= min_seconds and _in_val(meta.source_id,
                                                                                          val_fraction):
            by_source.setdefault(meta.source_id, []).append(i)
    rng = np.random.default_rng(seed)
    pairs = []
    for source in sorted(by_source):
        clips = by_source[source]
        refs = [i for i in clips if reader.index[i].duration <= max_ref_seconds]
        if len(clips) < 2 or not refs:
            continue
        ref = int(rng.choice(refs))
        pairs.append((source, ref, int(rng.choice([i for i in clips if i != ref]))))
    if not pairs:
        raise TestSetError(f"{corpus}: no held-out source (val_fraction={val_fraction}) has two clips with stored "
                           "video and audio")
    rng.shuffle(pairs)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for source, ref, target in sorted(pairs[:max_items]):
        names = {}
        for role, i in (("ref", ref), ("gt", target)):
            record = reader[i]
            with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
                tmp.write(bytes(record.video))
                tmp.flush()
                frames, fps = decode_video(tmp.name)
            stem = re.sub(r"[^A-Za-z0-9._-]", "_", record.clip_id)
            write_video(out / f"{stem}.mp4", frames, record.audio, fps=fps)
            np.savez(out / f"{stem}_codes.npz", codes=record.codes, fps=np.float64(record.fps),
                     text=np.str_(record.text))
            names[role] = (stem, record)
        (ref_stem, ref_rec), (gt_stem, gt_rec) = names["ref"], names["gt"]
        rows.append({"id": gt_stem, "ref": f"{ref_stem}.mp4", "ref_text": ref_rec.text, "text": gt_rec.text,
                     "gt": f"{gt_stem}.mp4", "language": gt_rec.language, "ref_codes": f"{ref_stem}_codes.npz",
                     "gt_codes": f"{gt_stem}_codes.npz", "source_id": source})
    manifest = out / "testset.jsonl"
    tmp = manifest.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(manifest)
    return manifest


# ---------------------------------------------------------------------------------------------- real-clip halves
def build_from_halves(clips: list[Path], out_dir: str | Path, max_seconds: float = 20.0, code_stride: int = 8,
                      max_side: int = 960, language: str = "en") -> Path:
    """Write ``out_dir/testset.jsonl`` from whole real talking videos: each clip (its first ``max_seconds``) is cut
    into a reference (first half) and a ground-truth target (second half) of the same person, written as mp4 with
    their audio. Visual codes of both halves (``ref_codes`` / ``gt_codes``) come from our face pipeline fitted to
    every ``code_stride``-th frame of the whole clip, more often in clips too short for 16 fits (fitting is ~1.5 s
    per frame on a CPU; E-FID / P-FID are distributions of frames, so a subsample serves them — score them with
    ``codes=dit``, which reads these codes).
    The clips have no transcripts, so ``text`` says so; do not score WER on this set."""
    from omnitalker.constants import SAMPLE_RATE
    from omnitalker.eval.style import fit_frames
    from omnitalker.inference.media import decode_audio, decode_video, probe_media
    from omnitalker.inference.mux import write_video

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, seen = [], set()
    for clip in clips:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(clip).stem)
        _check_id(stem, str(clip), seen)
        row = {"id": stem, "ref": f"{stem}_ref.mp4", "ref_text": "",
               "text": f"(no transcript: second half of {Path(clip).name})", "gt": f"{stem}_gt.mp4",
               "language": language, "ref_codes": f"{stem}_ref_codes.npz", "gt_codes": f"{stem}_gt_codes.npz",
               "source": str(clip)}
        rows.append(row)
        if all((out / row[k]).is_file() for k in ("ref", "gt", "ref_codes", "gt_codes")):
            continue  # made by an earlier, interrupted run (the codes are written last)
        fps = probe_media(clip).fps
        frames, fps = decode_video(clip, max_frames=round(max_seconds * fps), max_side=max_side)  # (T, H, W, 3)
        audio, _ = decode_audio(clip)  # (n,) at the pipeline's rate
        half = len(frames) // 2
        cut = round(half / fps * SAMPLE_RATE)
        end = round(len(frames) / fps * SAMPLE_RATE)
        stride = max(1, min(int(code_stride), len(frames) // 16))  # >= 16 fitted frames: the face fit needs 8
        codes = fit_frames(frames[::stride], fps / stride, name=stem)  # (ceil(T / stride), 61)
        code_half = -(-half // stride)  # code rows whose frame index < half
        parts = {"ref": (frames[:half], audio[:cut], codes[:code_half]),
                 "gt": (frames[half:], audio[cut:end], codes[code_half:])}
        for role, (f, a, _) in parts.items():
            write_video(out / f"{stem}_{role}.mp4", f, a, fps=fps)
        for role, (_, _, c) in parts.items():
            np.savez(out / f"{stem}_{role}_codes.npz", codes=c.astype(np.float32), fps=np.float64(fps / stride))
    if not rows:
        raise TestSetError("build_from_halves: no clips given")
    manifest = out / "testset.jsonl"
    tmp = manifest.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(manifest)
    return manifest
