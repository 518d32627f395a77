"""Rewrite a trusted older checkpoint so that it loads with ``weights_only=True`` (the only way OmniTalker loads).

    python scripts/convert_checkpoint.py OLD.ckpt NEW.ckpt

Early checkpoints of this project (format 1) could hold OmegaConf objects; loading those needs a full unpickling,
which runs whatever code the file contains. THIS SCRIPT DOES THAT FULL UNPICKLING: run it only on files you trust
(ones you trained yourself, or from a source you would run a program from). It rewrites every OmegaConf container
as plain dicts/lists, marks DiT checkpoints as the current format (``face_model`` stays unrecorded: None), writes
NEW atomically and checks that it loads safely.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from omnitalker.checkpoint import CHECKPOINT_FORMAT, CheckpointError, read_checkpoint, safe_torch_load
from omnitalker.safe_io import plain_data


def convert(src: Path, dst: Path) -> Path:
    ckpt = torch.load(src, map_location="cpu", weights_only=False)  # trusted by the user: see the module docstring
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{src} holds a {type(ckpt).__name__}, not a checkpoint dictionary")
    ckpt = plain_data(ckpt)
    meta = ckpt.get("omnitalker")
    if isinstance(meta, dict):
        meta["format"] = CHECKPOINT_FORMAT
        meta.setdefault("face_model", None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    try:
        torch.save(ckpt, tmp)
        read_checkpoint(tmp) if isinstance(meta, dict) else safe_torch_load(tmp)  # it must now load safely
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Runs a full unpickling of SRC: only for files you trust.")
    parser.add_argument("src", type=Path, help="checkpoint to convert (trusted)")
    parser.add_argument("dst", type=Path, help="where to write the converted checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    args = parser.parse_args(argv)
    if not args.src.is_file():
        print(f"error: checkpoint not found: {args.src}", file=sys.stderr)
        return 1
    if args.dst.exists() and not args.overwrite:
        print(f"error: {args.dst} exists (pass --overwrite to replace it)", file=sys.stderr)
        return 1
    print(f"note: fully unpickling {args.src}; this runs any code inside it, so convert only files you trust",
          file=sys.stderr)
    try:
        convert(args.src, args.dst)
    except Exception as exc:  # noqa: BLE001  unreadable file, or an object plain_data cannot turn into plain data
        print(f"error: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}", file=sys.stderr)
        return 1
    print(f"wrote {args.dst} (format {CHECKPOINT_FORMAT}, loads with weights_only=True)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
