"""Print the first training losses of a tiny seeded run, to compare two checkouts' numerics (same seed, same losses).

    cd CHECKOUT && python scripts/first_losses.py   # the checkout in the current directory is the one imported

Uses the tiny model and the synthetic test corpus of tests/corpus_factory.py (the setup of tests/test_training.py).
"""

import csv
import sys
import tempfile
from pathlib import Path

root = Path.cwd()
sys.path[:0] = [str(root), str(root / "tests")]
import omnitalker  # noqa: E402
from corpus_factory import make_records, write_corpus  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from omnitalker.training.run import train  # noqa: E402

tmp = Path(tempfile.mkdtemp())
corpus = write_corpus(tmp / "c", make_records(48, num_sources=6, seed=3))
args = ["model=tiny", "trainer=cpu", "logger=csv", f"data.corpus={corpus}", f"paths.output_dir={tmp/'out'}",
        "data.num_workers=0", "data.max_frames=500", "data.max_samples=8", "trainer.max_steps=6",
        "callbacks.model_checkpoint.every_n_train_steps=100", "callbacks.sample_logger.every_n_steps=0",
        "trainer.enable_progress_bar=false", "model.optim.warmup_steps=2", "model.optim.lr=1e-3",
        "model.ema.update_after_step=1", "model.ema.update_every=1", "model.ema.beta=0.9", "trainer.log_every_n_steps=1"]
with initialize_config_dir(config_dir=str(root / "configs"), version_base="1.3"):
    cfg = compose("train", overrides=args)
train(cfg)
rows = list(csv.DictReader(open(next((tmp / "out").rglob("metrics.csv")))))
print(omnitalker.__file__)
for r in rows:
    if r.get("train/loss"):
        print(r["step"], r["train/loss"], {k: v for k, v in r.items() if k.startswith("train_t/") and v})
