"""How benchmark scripts report a result: an aligned table on stdout and, optionally, a JSON line appended to a file."""

from __future__ import annotations

import json
from typing import Any


def report_row(row: dict[str, Any], out: str | None = None) -> None:
    width = max(len(key) for key in row)
    for key, value in row.items():
        print(f"{key:>{width}}: {value:.4g}" if isinstance(value, float) else f"{key:>{width}}: {value}")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")
