"""The DiT step of inference: reference (mel, visual codes, transcript) + texts -> generated mel and visual codes.

Several texts (the chunks of a long text) share one reference and are sampled together in one batch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from omnitalker.checkpoint import LoadedDiT
from omnitalker.constants import EXPRESSION_SLICE
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.flow.sampler import FlowSampler, SamplerConfig
from omnitalker.inference.errors import TextInputError
from omnitalker.text import TextError, Vocab, tokenize


@dataclass
class Generated:
    mel: torch.Tensor  # (n_gen, 100) log-mel of the new speech
    codes: torch.Tensor  # (n_gen, 61) visual codes at the mel rate, de-normalised (blendshapes clipped to [0, 1])


class DiTGenerator:
    def __init__(self, loaded: LoadedDiT, sampler: SamplerConfig, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = loaded.model.to(self.device).eval()
        self.vocab = Vocab(loaded.vocab_symbols)
        self.normalizer = CodeNormalizer.from_state_dict(loaded.normalizer_state).to(self.device)
        self.sampler = FlowSampler(self.model, sampler)

    def encode(self, reference_text: str, text: str) -> torch.Tensor:
        """ids (l,) of the reference transcript followed by the text to speak; clear errors for unusable text."""
        try:
            new_ids = self.vocab.encode(tokenize(text))
        except TextError as exc:
            raise TextInputError(f"text to speak: {exc}") from exc
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unknown symbols of the reference transcript are not the user's text
                ref_ids = self.vocab.encode(tokenize(reference_text)) if reference_text.strip() else []
        except TextError:
            ref_ids = []
        space = [0] if ref_ids else []  # vocabulary index 0 is the space
        return torch.tensor(ref_ids + space + new_ids, dtype=torch.long)

    @torch.no_grad()
    def generate(
        self,
        reference_mel: torch.Tensor,
        reference_codes: torch.Tensor | None,
        reference_text: str,
        texts: list[str],
        generated_frames: list[int],
        seed: int = 0,
    ) -> list[Generated]:
        """``reference_mel`` (n_ref, 100), ``reference_codes`` (n_ref, 61) raw codes at the mel rate; one output per
        text, ``generated_frames[i]`` frames long. ``reference_codes=None`` drops the visual condition (audio-only
        reference, the paper's Table 1 setting): the visual context is left in the null form the guidance branches
        feed for a dropped condition, so no branch sees a reference face."""
        n_ref = reference_mel.shape[0]
        codes_shape = (n_ref, self.model.cfg.code_dim) if reference_codes is None else reference_codes.shape
        if reference_mel.dim() != 2 or codes_shape != (n_ref, self.model.cfg.code_dim):
            raise ValueError(
                f"reference mel (n, {self.model.cfg.mel_dim}) and codes (n, {self.model.cfg.code_dim}) must share n, "
                f"got {tuple(reference_mel.shape)} and {tuple(codes_shape)}"
            )
        if len(texts) != len(generated_frames) or not texts:
            raise ValueError("give one generated length per text (and at least one text)")
        if min(generated_frames) < 1:
            raise ValueError(f"every text needs at least one generated frame, got {generated_frames}")
        ids = [self.encode(reference_text, t) for t in texts]
        b, total = len(texts), [n_ref + g for g in generated_frames]
        n = max(total)
        ref_mel = reference_mel.to(self.device, torch.float32)  # (n_ref, 100)
        if reference_codes is None:  # zeros in normalised space = what the model sees for a dropped visual condition
            ref_codes = torch.zeros(n_ref, self.model.cfg.code_dim, device=self.device)  # (n_ref, 61)
        else:
            ref_codes = self.normalizer.normalize(reference_codes.to(self.device, torch.float32))  # (n_ref, 61)
        context_audio = torch.zeros(b, n, ref_mel.shape[1], device=self.device)  # (b, n, 100)
        context_visual = torch.zeros(b, n, ref_codes.shape[1], device=self.device)  # (b, n, 61)
        context_audio[:, :n_ref] = ref_mel
        context_visual[:, :n_ref] = ref_codes
        text = torch.full((b, max(len(i) for i in ids)), -1, dtype=torch.long)  # (b, l)
        for k, row in enumerate(ids):
            text[k, : len(row)] = row
        mel, codes = self.sampler.sample(
            context_audio,
            context_visual,
            torch.full((b,), n_ref, device=self.device),
            torch.tensor(total, device=self.device),
            text.to(self.device),
            seeds=[seed + k for k in range(b)],
        )  # (b, n, 100), (b, n, 61)
        codes = self.normalizer.denormalize(codes)
        codes[..., EXPRESSION_SLICE] = codes[..., EXPRESSION_SLICE].clamp(0.0, 1.0)  # blendshapes live in [0, 1]
        return [Generated(mel[k, n_ref : total[k]].cpu(), codes[k, n_ref : total[k]].cpu()) for k in range(b)]
