"""Import shim: scripts/ is not a package, tests load scripts/infer.py's `run` through this module."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("omnitalker_infer_script", Path(__file__).parents[1] / "scripts/infer.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
run = _module.run
