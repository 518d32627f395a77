"""Web demo: python scripts/demo.py [key=value ...], the same as python -m omnitalker.demo (see docs/demo.md)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from omnitalker.demo.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
