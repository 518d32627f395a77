"""The training step reads nothing back from the device: counted read-backs, device-side t-bin losses, the deferred
non-finite loss watch, host-side length checks, and numerics equal to the checked (read-back) path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch.overrides import TorchFunctionMode

from omnitalker.data.dataset import collate
from omnitalker.flow.host_lengths import HostLengths
from omnitalker.flow.masking import span_mask
from omnitalker.flow.objective import FlowMatchingObjective, ObjectiveConfig
from omnitalker.models.factory import build_dit
from omnitalker.training.module import OmniTalkerModule, t_bin_losses
from omnitalker.training.nonfinite import NonFiniteLossError, NonFiniteWatch

ROOT = Path(__file__).resolve().parents[1]
READ_BACKS = {"__bool__", "item", "tolist", "__int__", "__float__", "__index__", "nonzero", "masked_select",
              "bincount", "unique"}


class CountReadBacks(TorchFunctionMode):
    """Records every tensor -> host read (on a GPU each one waits for the queue to drain), boolean indexing too."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name in READ_BACKS:
            self.calls.append(name)
        if name in ("__getitem__", "__setitem__") and len(args) > 1:
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            if any(torch.is_tensor(i) and i.dtype == torch.bool for i in index):
                self.calls.append(f"{name}[bool]")
        return func(*args, **(kwargs or {}))


def tiny_arch() -> dict:
    return OmegaConf.to_container(OmegaConf.load(ROOT / "configs/model/tiny.yaml").arch)


def make_items(lengths: list[int], refs: list[int], seed: int = 0) -> list[dict]:
    gen = torch.Generator().manual_seed(seed)
    return [{"mel": torch.randn(n, 100, generator=gen), "codes": torch.randn(n, 61, generator=gen),
             "text": torch.randint(0, 20, (max(1, n // 8),), generator=gen), "ref_length": r,
             "clip_ids": [f"clip{k}"]} for k, (n, r) in enumerate(zip(lengths, refs))]


def tiny_module(**kwargs) -> OmniTalkerModule:
    return OmniTalkerModule(arch=tiny_arch(), objective={}, sampler={}, optim={"warmup_steps": 1, "total_steps": 2},
                            vocab_symbols=[chr(97 + k) for k in range(20)], normalizer_state={}, **kwargs)


@pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")
def test_training_step_reads_nothing_back_from_the_device():
    module = tiny_module()
    batch = collate(make_items([40, 25, 33], [0, 10, 0]))
    with CountReadBacks() as counter:
        loss = module.training_step(batch, 0)
    assert counter.calls == []
    assert loss.dim() == 0 and math.isfinite(float(loss.detach()))
    module.net.set_value_checks(True)  # the opt-in debug checks do read back: the counter sees them
    with CountReadBacks() as counter:
        module.training_step(batch, 0)
    assert counter.calls


def test_host_lengths_give_the_same_loss_as_reading_them_back():
    torch.manual_seed(0)
    model = build_dit(tiny_arch(), text_vocab_size=20)
    batch = collate(make_items([40, 25, 33, 40], [0, 10, 0, 39]))
    objective = FlowMatchingObjective(ObjectiveConfig(ref_tail_prob=0.5))
    args = (model, batch["mel"], batch["codes"], batch["text"], batch["lengths"])
    fast = objective(*args, torch.Generator().manual_seed(3), batch["ref_lengths"],
                     host=HostLengths.from_lists(batch["host_lengths"], batch["host_ref_lengths"]))
    checked = objective(*args, torch.Generator().manual_seed(3), batch["ref_lengths"])
    assert torch.equal(fast.loss_mask, checked.loss_mask)
    assert torch.equal(fast.loss, checked.loss)
    full = collate(make_items([30, 30], [0, 0]))  # no padding: attention runs unmasked either way
    out = [objective(model, full["mel"], full["codes"], full["text"], full["lengths"],
                     torch.Generator().manual_seed(1), host=host).loss
           for host in (HostLengths.from_lists([30, 30]), None)]
    assert torch.equal(out[0], out[1])
    with pytest.raises(ValueError, match="do not fit"):
        objective(*args, host=HostLengths.from_lists([40, 25, 33, 41]))


def test_lengths_are_checked_on_the_host():
    with pytest.raises(ValueError, match="at least one valid frame"):
        HostLengths.from_lists([3, 0])
    with pytest.raises(ValueError, match="shorter than its item"):
        HostLengths.from_lists([3, 4], [0, 4])
    with pytest.raises(ValueError, match=r"clip1.*reference shorter"):
        collate(make_items([10, 12], [0, 12]))
    batch = collate(make_items([10, 12], [0, 5]))
    assert batch["host_lengths"] == [10, 12] and batch["host_ref_lengths"] == [0, 5]
    host = HostLengths.from_lists(batch["host_lengths"], batch["host_ref_lengths"])
    assert host.total == 22 and host.any_paired and host.padded(12) and not host.padded(10)


def test_span_mask_always_masks_a_frame_without_reading_back():
    lengths = torch.tensor([1, 2, 3, 1])
    with CountReadBacks() as counter:
        mask = span_mask(lengths, (0.01, 0.01), max_len=3, generator=torch.Generator().manual_seed(0),
                         check_values=False)
    assert counter.calls == []
    assert mask.any(1).all() and not (mask & ~(torch.arange(3)[None] < lengths[:, None])).any()


def test_t_bin_losses_on_the_device():
    t = torch.tensor([0.1, 0.2, 0.6, 0.9, 0.95])
    per_sample = torch.tensor([1.0, 3.0, 5.0, 2.0, 4.0])
    with CountReadBacks() as counter:
        bins = t_bin_losses(t, per_sample)
    assert counter.calls == []
    values = {k: float(v) for k, v in bins.items()}
    assert values["train_t/loss_t0.00-0.25"] == 2.0 and values["train_t/loss_t0.50-0.75"] == 5.0
    assert values["train_t/loss_t0.75-1.00"] == 3.0 and math.isnan(values["train_t/loss_t0.25-0.50"])


def test_nonfinite_watch_defers_the_check_but_names_the_step_and_clips():
    watch = NonFiniteWatch()
    parts = lambda v: {"mel": torch.tensor(v), "pose": torch.tensor(1.0)}
    with CountReadBacks() as counter:
        watch.observe(0, torch.tensor(1.0), parts(1.0), [["a"]])
        watch.observe(1, torch.tensor(2.0), parts(2.0), [["b"]])
    assert counter.calls == []
    watch.check("after step 1")  # all finite: passes, forgets the window
    watch.observe(2, torch.tensor(1.5), parts(1.5), [["c"]])
    watch.observe(3, torch.tensor(float("nan")), parts(float("nan")), [["bad_clip"]])
    watch.observe(4, torch.tensor(float("inf")), parts(2.0), [["later"]])
    with pytest.raises(NonFiniteLossError, match=r"at step 3 .*steps 2\.\.4.*bad_clip.*later"):
        watch.check("after step 4")


def test_compile_option_wraps_the_forward_and_keeps_the_state_dict():
    plain, compiled = tiny_module(), tiny_module(compile_net=True)  # torch.compile is lazy: nothing compiles here
    assert plain._forward_net is plain.net
    assert compiled._forward_net is not compiled.net and compiled._forward_net._orig_mod is compiled.net
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert not plain.net.check_values and tiny_module(debug_checks=True).net.check_values


@pytest.mark.parametrize("lengths", [[30, 30], [30, 21]])  # unpadded and padded batches
def test_sampling_reads_back_per_call_not_per_ode_step(lengths):
    from omnitalker.flow.sampler import FlowSampler, SamplerConfig

    model = build_dit(tiny_arch()).eval()
    gen = torch.Generator().manual_seed(0)
    b, n = len(lengths), max(lengths)
    context_audio, context_visual = torch.randn(b, n, 100, generator=gen), torch.randn(b, n, 61, generator=gen)
    text = torch.randint(0, 20, (b, 6), generator=gen)
    counts = {}
    for steps in (2, 6):
        sampler = FlowSampler(model, SamplerConfig(steps=steps))
        with CountReadBacks() as counter:
            sampler.sample(context_audio, context_visual, torch.tensor([10, 8]), torch.tensor(lengths), text)
        counts[steps] = len(counter.calls)
    assert counts[2] == counts[6]  # the per-call checks (lengths, padding, noise lengths) only
