"""WavLM-large + ECAPA-TDNN speaker embedder: the SIM model of Seed-TTS-eval / F5-TTS (UniSpeech
``wavlm_large_finetune.pth``), so the public checkpoint loads from a local path.

Architecture (UniSpeech ``downstreams/speaker_verification``, ``ECAPA_TDNN_SMALL(feat_dim=1024, emb_dim=256,
feat_type="wavlm_large")``), written here from its description:
- input: 16 kHz waveform, layer-normalised per utterance (WavLM-large's ``normalize=True``);
- WavLM-large (torchaudio's implementation; 24 layers, 1024 dims, gated relative position bias) gives 25 hidden
  states: the transformer input (after the convolutional position embedding) and the 24 layer outputs, the last one
  passed through the encoder's final LayerNorm (s3prl's hooks, fairseq's pre-LN encoder);
- softmax-weighted sum of the 25 states (``feature_weight``) -> InstanceNorm -> ECAPA-TDNN (Conv1d+ReLU+BN,
  three SE-Res2Blocks with dilations 2/3/4, 1x1 conv over their concatenation, attentive statistics pooling,
  BN, linear) -> 256-d embedding; SIM is the cosine of two embeddings.

The public file is ``{"model": state_dict, ...}`` with WavLM under ``feature_extract.model.*`` in UniSpeech's own
names; :func:`public_to_local` maps them to torchaudio's (q/k/v projections concatenated into ``in_proj``) and
:func:`local_to_public` is the inverse (used by the tests to write a checkpoint in the public layout).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from omnitalker.eval.metric import MetricError

_PUB = "feature_extract.model."
_IGNORED = re.compile(r"^(loss_calculator\.|feature_extract\.model\.(mask_emb|label_embs_concat|final_proj))")


class ConvReluBn(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int = 1, padding: int = 0, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=padding, dilation=dilation)
        self.bn = nn.BatchNorm1d(c_out)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T) -> (B, C', T)
        return self.bn(F.relu(self.conv(x)))


class Res2ConvReluBn(nn.Module):
    """Res2Net block: channels split into `scale` groups, each group after the first adds the previous group's
    output before its own conv; the last group passes through."""

    def __init__(self, channels: int, kernel: int, padding: int, dilation: int, scale: int):
        super().__init__()
        self.width = channels // scale
        self.convs = nn.ModuleList(
            nn.Conv1d(self.width, self.width, kernel, padding=padding, dilation=dilation) for _ in range(scale - 1)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(scale - 1))

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T)
        groups = torch.split(x, self.width, dim=1)
        out, previous = [], None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            piece = groups[i] if previous is None else previous + groups[i]
            previous = bn(F.relu(conv(piece)))
            out.append(previous)
        out.append(groups[-1])
        return torch.cat(out, dim=1)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, bottleneck: int = 128):
        super().__init__()
        self.linear1 = nn.Linear(channels, bottleneck)
        self.linear2 = nn.Linear(bottleneck, channels)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T)
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))  # (B, C)
        return x * gate.unsqueeze(2)


class SERes2Block(nn.Module):
    # attribute names follow the public checkpoint (layer2.Conv1dReluBn1.conv.weight, ...)
    def __init__(self, channels: int, dilation: int, scale: int = 8):
        super().__init__()
        self.Conv1dReluBn1 = ConvReluBn(channels, channels)
        self.Res2Conv1dReluBn = Res2ConvReluBn(channels, 3, dilation, dilation, scale)
        self.Conv1dReluBn2 = ConvReluBn(channels, channels)
        self.SE_Connect = SqueezeExcite(channels)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T)
        return x + self.SE_Connect(self.Conv1dReluBn2(self.Res2Conv1dReluBn(self.Conv1dReluBn1(x))))


class AttentiveStatsPool(nn.Module):
    def __init__(self, channels: int, attention: int = 128):
        super().__init__()
        self.linear1 = nn.Conv1d(channels, attention, 1)
        self.linear2 = nn.Conv1d(attention, channels, 1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T) -> (B, 2C)
        alpha = torch.softmax(self.linear2(torch.tanh(self.linear1(x))), dim=2)  # (B, C, T)
        mean = (alpha * x).sum(dim=2)
        var = (alpha * x * x).sum(dim=2) - mean * mean
        return torch.cat([mean, var.clamp(min=1e-9).sqrt()], dim=1)


def build_wavlm(
    dim: int = 1024,
    layers: int = 24,
    heads: int = 16,
    ffn: int = 4096,
    conv_channels: int = 512,
    pos_kernel: int = 128,
    pos_groups: int = 16,
) -> nn.Module:
    """WavLM in eval configuration (no dropout); defaults are WavLM-large."""
    import torchaudio

    conv = [(conv_channels, 10, 5)] + [(conv_channels, 3, 2)] * 4 + [(conv_channels, 2, 2)] * 2
    return torchaudio.models.wavlm_model(
        extractor_mode="layer_norm",
        extractor_conv_layer_config=conv,
        extractor_conv_bias=False,
        encoder_embed_dim=dim,
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=pos_kernel,
        encoder_pos_conv_groups=pos_groups,
        encoder_num_layers=layers,
        encoder_num_heads=heads,
        encoder_num_buckets=320,
        encoder_max_distance=800,
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=ffn,
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=True,
        encoder_layer_drop=0.0,
        aux_num_out=None,
    )


class WavLMEcapa(nn.Module):
    """Waveform (B, n) at 16 kHz -> speaker embedding (B, emb_dim). Defaults: the public WavLM-large model."""

    def __init__(self, emb_dim: int = 256, channels: int = 512, out_channels: int = 1536, **wavlm_size):
        super().__init__()
        self.wavlm = build_wavlm(**wavlm_size)
        tr = self.wavlm.encoder.transformer
        dim = tr.pos_conv_embed.embed_dim
        self.feature_weight = nn.Parameter(torch.zeros(len(tr.layers) + 1))
        self.instance_norm = nn.InstanceNorm1d(dim)
        self.layer1 = ConvReluBn(dim, channels, kernel=5, padding=2)
        self.layer2 = SERes2Block(channels, dilation=2)
        self.layer3 = SERes2Block(channels, dilation=3)
        self.layer4 = SERes2Block(channels, dilation=4)
        self.conv = nn.Conv1d(channels * 3, out_channels, 1)
        self.pooling = AttentiveStatsPool(out_channels)
        self.bn = nn.BatchNorm1d(out_channels * 2)
        self.linear = nn.Linear(out_channels * 2, emb_dim)

    def hidden_states(self, wave: Tensor) -> Tensor:
        """(B, n) -> (L+1, B, T, D): transformer input and every layer output (last one after the final LayerNorm)."""
        wave = F.layer_norm(wave, wave.shape[-1:])  # per-utterance waveform normalisation
        features, _ = self.wavlm.feature_extractor(wave, None)  # (B, T, C)
        x = self.wavlm.encoder.feature_projection(features)  # (B, T, D)
        tr = self.wavlm.encoder.transformer
        x = x + tr.pos_conv_embed(x)
        states, bias = [x], None
        for layer in tr.layers:
            x, bias = layer(x, None, position_bias=bias)
            states.append(x)
        states[-1] = tr.layer_norm(states[-1])
        return torch.stack(states)

    def forward(self, wave: Tensor) -> Tensor:
        weights = torch.softmax(self.feature_weight, dim=0)  # (L+1,)
        x = (weights[:, None, None, None] * self.hidden_states(wave)).sum(0)  # (B, T, D)
        x = self.instance_norm(x.transpose(1, 2) + 1e-6)  # (B, D, T)
        out2 = self.layer2(self.layer1(x))
        out3 = self.layer3(out2)
        out4 = self.layer4(out3)
        x = F.relu(self.conv(torch.cat([out2, out3, out4], dim=1)))  # (B, out_channels, T)
        return self.linear(self.bn(self.pooling(x)))  # (B, emb_dim)


# ---- checkpoint layout -------------------------------------------------------------------------------------------
_L = "encoder.transformer.layers.{i}."
_WAVLM_RULES = [  # (public name under feature_extract.model., torchaudio name under wavlm.); {i} layer, {p} weight|bias
    ("feature_extractor.conv_layers.{i}.0.weight", "feature_extractor.conv_layers.{i}.conv.weight"),
    ("feature_extractor.conv_layers.{i}.2.1.{p}", "feature_extractor.conv_layers.{i}.layer_norm.{p}"),
    ("layer_norm.{p}", "encoder.feature_projection.layer_norm.{p}"),
    ("post_extract_proj.{p}", "encoder.feature_projection.projection.{p}"),
    ("encoder.pos_conv.0.bias", "encoder.transformer.pos_conv_embed.conv.bias"),
    ("encoder.pos_conv.0.weight_g", "encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original0"),
    ("encoder.pos_conv.0.weight_v", "encoder.transformer.pos_conv_embed.conv.parametrizations.weight.original1"),
    ("encoder.layer_norm.{p}", "encoder.transformer.layer_norm.{p}"),
    ("encoder.layers.{i}.self_attn.out_proj.{p}", _L + "attention.attention.out_proj.{p}"),
    ("encoder.layers.{i}.self_attn.grep_linear.{p}", _L + "attention.gru_rel_pos_linear.{p}"),
    ("encoder.layers.{i}.self_attn.grep_a", _L + "attention.gru_rel_pos_const"),
    ("encoder.layers.{i}.self_attn.relative_attention_bias.weight", _L + "attention.rel_attn_embed.weight"),
    ("encoder.layers.{i}.self_attn_layer_norm.{p}", _L + "layer_norm.{p}"),
    ("encoder.layers.{i}.fc1.{p}", _L + "feed_forward.intermediate_dense.{p}"),
    ("encoder.layers.{i}.fc2.{p}", _L + "feed_forward.output_dense.{p}"),
    ("encoder.layers.{i}.final_layer_norm.{p}", _L + "final_layer_norm.{p}"),
]
_QKV = ("encoder.layers.{i}.self_attn.{part}_proj.{p}", _L + "attention.attention.in_proj_{p}")


def _pattern(template: str) -> re.Pattern:
    escaped = re.escape(template)
    for field, group in (("i", r"(?P<i>\d+)"), ("p", r"(?P<p>weight|bias)"), ("part", r"(?P<part>q|k|v)")):
        escaped = escaped.replace(re.escape("{" + field + "}"), group)
    return re.compile(escaped)


_TO_LOCAL = [(_pattern(pub), loc) for pub, loc in _WAVLM_RULES]
_TO_PUBLIC = [(_pattern(loc), pub) for pub, loc in _WAVLM_RULES]
_QKV_PUBLIC, _QKV_LOCAL = _pattern(_QKV[0]), _pattern(_QKV[1])


def public_to_local(public: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Public (UniSpeech) state dict -> (this module's state dict, public keys that map to nothing)."""
    local: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, Tensor]] = {}
    unknown: list[str] = []
    for key, value in public.items():
        if _IGNORED.match(key):
            continue
        if not key.startswith(_PUB):
            local[key] = value  # the ECAPA head and feature_weight keep their public names
            continue
        name = key[len(_PUB) :]
        if m := _QKV_PUBLIC.fullmatch(name):
            qkv.setdefault((m["i"], m["p"]), {})[m["part"]] = value
            continue
        for pattern, target in _TO_LOCAL:
            if m := pattern.fullmatch(name):
                local["wavlm." + target.format(**m.groupdict())] = value
                break
        else:
            unknown.append(key)
    for (layer, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            unknown.append(f"{_PUB}encoder.layers.{layer}.self_attn.q/k/v_proj.{kind} (incomplete)")
            continue
        # nn.MultiheadAttention packs the three projections as [q; k; v] along the output dimension
        local["wavlm." + _QKV[1].format(i=layer, p=kind)] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return local, unknown


def local_to_public(local: dict[str, Tensor]) -> dict[str, Tensor]:
    """This module's state dict -> the public layout (inverse of :func:`public_to_local`; mask_emb not written)."""
    public: dict[str, Tensor] = {}
    for key, value in local.items():
        if not key.startswith("wavlm."):
            public[key] = value
            continue
        name = key[len("wavlm.") :]
        if m := _QKV_LOCAL.fullmatch(name):
            for part, chunk in zip("qkv", value.chunk(3)):
                public[_PUB + _QKV[0].format(i=m["i"], p=m["p"], part=part)] = chunk.clone()
            continue
        for pattern, target in _TO_PUBLIC:
            if m := pattern.fullmatch(name):
                public[_PUB + target.format(**m.groupdict())] = value
                break
        else:
            raise KeyError(f"no public name for {key}")
    return public


def _model_for(local: dict[str, Tensor], n_layers: int) -> WavLMEcapa:
    """A model sized from the checkpoint's tensor shapes (the public file is WavLM-large; the tests use tiny ones)."""
    tr = "wavlm.encoder.transformer."
    dim = local[tr + "layer_norm.weight"].shape[0]
    pos_weight = local[tr + "pos_conv_embed.conv.parametrizations.weight.original1"]  # (D, D / groups, kernel)
    return WavLMEcapa(
        emb_dim=local["linear.weight"].shape[0],
        channels=local["layer1.conv.weight"].shape[0],
        out_channels=local["conv.weight"].shape[0],
        dim=dim,
        layers=n_layers,
        heads=local[tr + "layers.0.attention.gru_rel_pos_const"].shape[1],
        ffn=local[tr + "layers.0.feed_forward.intermediate_dense.weight"].shape[0],
        conv_channels=local["wavlm.encoder.feature_projection.layer_norm.weight"].shape[0],
        pos_kernel=pos_weight.shape[2],
        pos_groups=dim // pos_weight.shape[1],
    )


def load_wavlm_ecapa(path: str | Path, device: str = "cpu") -> WavLMEcapa:
    """Load ``wavlm_large_finetune.pth`` (or any checkpoint in its layout) from a local path, tensors only."""
    path = Path(path)
    if not path.is_file():
        raise MetricError(
            f"WavLM-ECAPA speaker model not found: {path} (the UniSpeech wavlm_large_finetune.pth, loaded from a "
            "local path; nothing is downloaded)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MetricError(f"cannot load {path} as a tensors-only checkpoint: {exc}") from exc
    public = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(public, dict) or not all(isinstance(v, Tensor) for v in public.values()):
        raise MetricError(f"{path} is not a state dict (expected a dict with a 'model' state dict)")
    local, unknown = public_to_local(public)
    n_layers = 1 + max(
        (int(m.group(1)) for k in local if (m := re.search(r"transformer\.layers\.(\d+)\.", k))), default=-1
    )
    dim_key = "wavlm.encoder.transformer.layer_norm.weight"
    if dim_key not in local or n_layers == 0 or "wavlm." + _WAVLM_RULES[6][1] not in local:
        raise MetricError(f"{path} has no WavLM encoder under '{_PUB}' (is it a UniSpeech WavLM-ECAPA checkpoint?)")
    try:
        model = _model_for(local, n_layers)
    except KeyError as exc:
        raise MetricError(f"{path} lacks the WavLM-ECAPA tensor {exc}") from exc
    missing, unexpected = model.load_state_dict(local, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected or unknown:
        raise MetricError(
            f"{path} does not match the WavLM-ECAPA layout: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected) + len(unknown)} unexpected (e.g. {(unknown + unexpected)[:3]})"
        )
    return model.eval().to(device)
