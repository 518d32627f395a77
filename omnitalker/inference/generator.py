"""The DiT step of inference: prompt (mel, visual codes, transcript) + texts -> generated mel and visual codes.

Two ways to run it:
- :meth:`DiTGenerator.generate`: several texts sharing one reference, sampled together in one batch.
- :meth:`DiTGenerator.continue_chunks`: the chunks of a long text one after another, each prompted with the reference
  followed by the previous chunk's generated mel, codes and text, so chunk k+1 continues from where chunk k ended
  (SPEC §5, long text). An iterator: a caller can use each chunk as soon as it is sampled (streaming).

Prompt text and new text are encoded exactly as training encodes a (reference, target) pair: the transcripts joined
by one space and tokenised together (``omnitalker.data.dataset``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from omnitalker.checkpoint import LoadedDiT
from omnitalker.constants import EXPRESSION_SLICE
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.device import autocast, compile_module
from omnitalker.flow.sampler import FlowSampler, SamplerConfig
from omnitalker.inference.errors import TextInputError
from omnitalker.text import TextError, Vocab, tokenize

log = logging.getLogger(__name__)


@dataclass
class Generated:
    mel: torch.Tensor  # (n_gen, 100) log-mel of the new speech
    codes: torch.Tensor  # (n_gen, 61) visual codes at the mel rate, de-normalised (blendshapes clipped to [0, 1])


def join_transcripts(texts: Sequence[str]) -> str:
    """The transcript of concatenated clips, as the training dataset builds it for a (reference, target) pair."""
    return " ".join(texts)


class DiTGenerator:
    def __init__(
        self,
        loaded: LoadedDiT,
        sampler: SamplerConfig,
        device: str | torch.device = "cpu",
        autocast_dtype: torch.dtype | None = None,
        compile: bool = False,
        max_batch: int = 8,
        compile_mode: str = "default",
    ) -> None:
        """``autocast_dtype``: run the DiT under autocast (bf16 on CUDA; None = fp32); ``compile``: torch.compile
        the DiT (dynamic shapes: every chunk has its own length) in ``compile_mode``
        (``omnitalker.device.COMPILE_MODES``; "reduce-overhead" = CUDA graphs); ``max_batch``: most texts sampled in one batch (each
        is times the guidance branches), so memory does not grow with the number of texts."""
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.device = torch.device(device)
        self.model = loaded.model.to(self.device).eval()
        self.vocab = Vocab(loaded.vocab_symbols)
        self.normalizer = CodeNormalizer.from_state_dict(loaded.normalizer_state).to(self.device)
        self.autocast_dtype = autocast_dtype
        self.max_batch = max_batch
        net = compile_module(self.model, compile_mode, dynamic=True) if compile else self.model
        self.sampler = FlowSampler(net, sampler)

    def encode(self, reference_text: str | Sequence[str], text: str) -> torch.Tensor:
        """ids (l,) of the prompt transcript(s) followed by the text to speak, joined and tokenised as training
        does; clear errors for unusable text."""
        try:
            new_ids = self.vocab.encode(tokenize(text))  # checks the user's text alone (its errors, its warnings)
        except TextError as exc:
            raise TextInputError(f"text to speak: {exc}") from exc
        prompts = [reference_text] if isinstance(reference_text, str) else list(reference_text)
        prompts = [p for p in prompts if p.strip()]
        if not prompts:
            return torch.tensor(new_ids, dtype=torch.long)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unknown symbols of the reference transcript are not the user's text
                ids = self.vocab.encode(tokenize(join_transcripts([*prompts, text])))
        except TextError:  # a reference transcript the tokenizer cannot read: speak the text without it
            ids = new_ids
        return torch.tensor(ids, dtype=torch.long)

    @torch.no_grad()
    def generate(
        self,
        reference_mel: torch.Tensor,
        reference_codes: torch.Tensor | None,
        reference_text: str | Sequence[str],
        texts: list[str],
        generated_frames: list[int],
        seed: int = 0,
    ) -> list[Generated]:
        """``reference_mel`` (n_ref, 100), ``reference_codes`` (n_ref, 61) raw codes at the mel rate; one output per
        text, ``generated_frames[i]`` frames long, all texts sampled in one batch. ``reference_codes=None`` drops the visual condition (audio-only
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
        if len(texts) > self.max_batch:  # the DiT batch is capped: sub-batches, seeds as if sampled together
            return [out for i in range(0, len(texts), self.max_batch) for out in self.generate(
                reference_mel, reference_codes, reference_text, texts[i : i + self.max_batch],
                generated_frames[i : i + self.max_batch], seed=seed + i)]
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
        with autocast(self.device, self.autocast_dtype):
            mel, codes = self.sampler.sample(
                context_audio,
                context_visual,
                torch.full((b,), n_ref, device=self.device),
                torch.tensor(total, device=self.device),
                text.to(self.device),
                seeds=[seed + k for k in range(b)],
            )  # (b, n, 100), (b, n, 61)
        mel, codes = mel.float(), self.normalizer.denormalize(codes.float())
        codes[..., EXPRESSION_SLICE] = codes[..., EXPRESSION_SLICE].clamp(0.0, 1.0)  # blendshapes live in [0, 1]
        return [Generated(mel[k, n_ref : total[k]].cpu(), codes[k, n_ref : total[k]].cpu()) for k in range(b)]

    def continue_chunks(
        self,
        reference_mel: torch.Tensor,
        reference_codes: torch.Tensor | None,
        reference_text: str,
        texts: Sequence[str],
        generated_frames: Sequence[int],
        seed: int = 0,
        max_frames: int | None = None,
    ) -> Iterator[Generated]:
        """Yield chunk k's generation (``generated_frames[k]`` frames of ``texts[k]``), sampled one at a time.

        Chunk 0 is prompted with the reference; chunk k > 0 with the reference followed by all of chunk k-1 (its
        generated mel and codes, and its text after the reference transcript), so its speech and motion start where
        chunk k-1 ended. The whole chunk is used because its text is known only as a whole. If reference + chunk
        k-1 + chunk k would exceed ``max_frames`` (the model's context budget), chunk k falls back to the reference
        alone (logged). The DiT batch is one sequence (times the guidance branches) whatever the text length.
        """
        if len(texts) != len(generated_frames) or not texts:
            raise ValueError("give one generated length per text (and at least one text)")
        n_ref = reference_mel.shape[0]
        previous: tuple[Generated, str] | None = None
        for k, (text, frames) in enumerate(zip(texts, generated_frames)):
            prompt_mel, prompt_codes, prompt_text = reference_mel, reference_codes, [reference_text]
            if previous is not None:
                prev, prev_text = previous
                if max_frames is None or n_ref + prev.mel.shape[0] + frames <= max_frames:
                    prompt_mel = torch.cat([reference_mel, prev.mel.to(reference_mel)])  # (n_ref + n_prev, 100)
                    if reference_codes is not None:  # None: the visual condition stays dropped (audio only)
                        prompt_codes = torch.cat([reference_codes, prev.codes.to(reference_codes)])  # (n_ref+n_prev, 61)
                    prompt_text = [reference_text, prev_text]
                else:
                    log.warning("chunk %d: reference + previous chunk + this chunk (%d frames) exceed the budget of %d "
                                "frames; prompting with the reference alone", k, n_ref + prev.mel.shape[0] + frames,
                                max_frames)
            out = self.generate(prompt_mel, prompt_codes, prompt_text, [text], [frames], seed=seed + k)[0]
            yield out
            previous = (out, text)
