"""Fine-tuning: the pretrained weights are inherited (old embedding rows unchanged, new symbols' rows at the mean
embedding, every other tensor equal), and `scripts/finetune.py` itself runs end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from corpus_factory import make_records, write_corpus
from test_training import config, overrides

from omnitalker.checkpoint import load_dit, read_checkpoint
from omnitalker.data.corpus import ClipRecord
from omnitalker.training.run import build, train

ROOT = Path(__file__).resolve().parents[1]
EMBED = "text_encoder.embed.weight"


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """A tiny DiT trained for 4 steps (EMA and online weights differ) on an English corpus."""
    root = tmp_path_factory.mktemp("finetune")
    corpus = write_corpus(root / "en", make_records(24, num_sources=4, seed=3))
    train(config(overrides(corpus, root / "pre", 4)))
    return root / "pre" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def new_corpus(tmp_path_factory) -> Path:
    """A corpus whose Mandarin text brings pinyin symbols the pretrained vocabulary lacks."""
    records = make_records(12, num_sources=3, seed=9, prefix="zh")
    records = [ClipRecord(**{**r.__dict__, "text": "你好世界 " + r.text, "language": "mixed"}) for r in records]
    return write_corpus(tmp_path_factory.mktemp("zh") / "zh", records)


@pytest.mark.parametrize("init_weights", ["ema", "online"])
def test_finetune_inherits_the_pretrained_weights(pretrained, new_corpus, tmp_path, init_weights):
    source = load_dit(pretrained, prefer_ema=init_weights == "ema")
    _, module, datamodule, _ = build(
        config(overrides(new_corpus, tmp_path, 2) + [f"init_from={pretrained}", f"init_weights={init_weights}"])
    )
    old = source.model.state_dict()
    n_old = len(source.vocab_symbols)
    assert list(datamodule.vocab.symbols[:n_old]) == source.vocab_symbols
    added = len(datamodule.vocab.symbols) - n_old
    assert added >= 4  # ni2 hao3 shi4 jie4 at least

    for net in (module.net, module.ema.ema_model):  # the online weights and the EMA start from the same tensors
        new = net.state_dict()
        assert set(new) == set(old)
        for key, value in old.items():
            if key != EMBED:
                torch.testing.assert_close(new[key], value, rtol=0, atol=0, msg=f"{key} was not inherited")
        embed_old, embed_new = old[EMBED], new[EMBED]  # (n_old + 1, d), (n_old + added + 1, d); row 0 = filler
        assert embed_new.shape == (n_old + added + 1, embed_old.shape[1])
        torch.testing.assert_close(embed_new[: n_old + 1], embed_old, rtol=0, atol=0)
        # documented initialisation (omnitalker/training/run.py::extend_text_embedding): the mean of the
        # pretrained symbols' rows (the filler row 0 excluded)
        expected = embed_old[1:].mean(0).expand(added, -1)
        torch.testing.assert_close(embed_new[n_old + 1 :], expected)


def test_finetune_script_runs(pretrained, new_corpus, tmp_path):
    out = tmp_path / "ft"
    args = overrides(new_corpus, out, 2) + [f"init_from={pretrained}"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "finetune.py"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = out / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["global_step"] == 2
    pre, tuned = load_dit(pretrained), load_dit(last)
    assert tuned.vocab_symbols[: len(pre.vocab_symbols)] == pre.vocab_symbols
    assert {"ni2", "hao3", "shi4", "jie4"} <= set(tuned.vocab_symbols[len(pre.vocab_symbols) :])
    assert tuned.meta["config"]["init_from"] == str(pretrained)
    changed = [k for k, v in pre.model.state_dict().items() if k != EMBED and not torch.equal(v, tuned.model.state_dict()[k])]
    assert changed, "two fine-tuning steps changed no weight"

