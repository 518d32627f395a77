"""What the synthetic corpus generator makes: :class:`SyntheticCorpusConfig`, its presets and the held-out splits."""

from __future__ import annotations

from dataclasses import dataclass, field

from data_prep.synthetic.style import SpeakerStyle, StyleRanges, make_speakers, sample_speakers

STYLE_MODES = ("archetypes", "sampled")
TRAIN, HELDOUT_SOURCE, HELDOUT_SPEAKER = "train", "heldout_source", "heldout_speaker"


class SyntheticCorpusError(RuntimeError):
    """The synthetic corpus cannot be generated with this configuration or at this output path."""


@dataclass(frozen=True)
class SyntheticCorpusConfig:
    """What to generate. The default is ~5-6 minutes of audio (4 speakers x 3 sessions x 6 clips of 3-6 s)."""

    out: str = "data/synthetic"
    num_speakers: int = 4
    sources_per_speaker: int = 3
    clips_per_source: int = 6
    seed: int = 0
    fps: float = 25.0
    write_source_videos: bool = True
    write_clip_videos: bool = True
    video_in_corpus: bool = True
    crf: int = 20
    x264_preset: str = "veryfast"
    map_resolution: int = 256
    render_batch: int = 16
    shard_size_mb: float = 256.0
    num_threads: int = 1  # torch threads while rendering (small ops: 1 is fastest on a busy machine); 0 = torch default
    overwrite: bool = False
    progress: bool = True
    # False: codes + audio only (no face rendering, no mp4, no keypoints in the ground truth) -- hours of data in minutes
    render: bool = True
    # "archetypes": the 4 hand-designed speakers, then jittered variants; "sampled": every speaker's habits drawn from
    # ``ranges`` (stratified per parameter, so speakers spread over each range), languages alternating per ``languages``
    style_mode: str = "archetypes"
    ranges: StyleRanges = field(default_factory=StyleRanges)
    languages: str = "en,zh"
    # held-out material for evaluation, written to corpus_heldout/ (never into the training corpus/):
    heldout_sources_per_speaker: int = 0  # the last N sessions of every training speaker
    heldout_speakers: int = 0  # the last K speakers, all their sessions
    heldout_sentence_fraction: float = 0.0  # share of sentences (fixed hash split) only held-out sessions speak
    workers: int = 1  # processes synthesising sessions in parallel (output is identical for any value)

    def validate(self) -> None:
        for name in ("num_speakers", "sources_per_speaker", "clips_per_source", "render_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SyntheticCorpusError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise SyntheticCorpusError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not self.fps > 0:
            raise SyntheticCorpusError(f"fps must be positive, got {self.fps!r}")
        if not 0 <= self.crf <= 51:
            raise SyntheticCorpusError(f"crf must lie in [0, 51], got {self.crf!r}")
        if self.num_threads < 0:
            raise SyntheticCorpusError(f"num_threads must be >= 0, got {self.num_threads!r}")
        if self.style_mode not in STYLE_MODES:
            raise SyntheticCorpusError(f"style_mode must be one of {STYLE_MODES}, got {self.style_mode!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise SyntheticCorpusError(f"workers must be a positive integer, got {self.workers!r}")
        if not 0 <= self.heldout_speakers < self.num_speakers:
            raise SyntheticCorpusError(f"heldout_speakers must lie in [0, num_speakers), got {self.heldout_speakers}")
        if not 0 <= self.heldout_sources_per_speaker < self.sources_per_speaker:
            raise SyntheticCorpusError("heldout_sources_per_speaker must lie in [0, sources_per_speaker) so every "
                                       f"training speaker keeps a training session, got {self.heldout_sources_per_speaker}")
        if not 0.0 <= self.heldout_sentence_fraction < 1.0:
            raise SyntheticCorpusError(f"heldout_sentence_fraction must lie in [0, 1), got {self.heldout_sentence_fraction}")
        try:
            self.ranges.validate()
        except ValueError as exc:
            raise SyntheticCorpusError(str(exc)) from None

    @property
    def language_list(self) -> tuple[str, ...]:
        return tuple(lang.strip() for lang in self.languages.split(",") if lang.strip())

    @property
    def has_heldout(self) -> bool:
        return self.heldout_speakers > 0 or self.heldout_sources_per_speaker > 0

    def split_of(self, speaker_index: int, source_index: int) -> str:
        """Which part of the corpus a session belongs to (held-out speakers are the last ones, held-out sources the
        last sessions of every other speaker)."""
        if speaker_index >= self.num_speakers - self.heldout_speakers:
            return HELDOUT_SPEAKER
        if source_index >= self.sources_per_speaker - self.heldout_sources_per_speaker:
            return HELDOUT_SOURCE
        return TRAIN

    def speakers(self) -> list[SpeakerStyle]:
        if self.style_mode == "sampled":
            try:
                return sample_speakers(self.num_speakers, self.seed, self.ranges, self.language_list)
            except ValueError as exc:
                raise SyntheticCorpusError(str(exc)) from None
        return make_speakers(self.num_speakers, self.seed)


PRESETS: dict[str, dict] = {
    "default": {},
    # for tests and smoke runs: every speaker once, one short session each (~15-20 s of audio in all)
    "tiny": {"sources_per_speaker": 1, "clips_per_source": 1},
    # a bit more than the default for renderer/model smoke training (~15 minutes)
    "medium": {"num_speakers": 8, "sources_per_speaker": 4, "clips_per_source": 6},
    # codes + audio for learning studies: 16 sampled speakers x 8 sessions x 10 utterances (~1.6 h of audio), the last
    # 2 sessions of each speaker and a fifth of the sentences held out for evaluation
    "study": {"render": False, "style_mode": "sampled", "num_speakers": 16, "sources_per_speaker": 8,
              "clips_per_source": 10, "heldout_sources_per_speaker": 2, "heldout_sentence_fraction": 0.2},
}
