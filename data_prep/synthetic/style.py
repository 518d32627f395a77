"""Per-speaker identity of the synthetic corpus: an espeak voice plus a speaking style for the face.

The style parameters are what the model is meant to imitate in context (SPEC §1): head-motion amplitude and
rhythm, blink rate, gaze habits and expression bias. The first four speakers are hand-designed archetypes that
differ clearly (two English, two Mandarin); further speakers are seeded jittered variants of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from data_prep.synthetic.speech import VoiceSettings


@dataclass(frozen=True)
class SpeakerStyle:
    """Voice + motion habits of one synthetic speaker. Angles in radians, rates per second unless named otherwise."""

    speaker_id: str
    language: str  # "en" or "zh"
    voice: VoiceSettings
    # head motion: a drifting sinusoid at ``head_freq`` Hz plus smooth noise, scaled per axis
    head_yaw_amp: float
    head_pitch_amp: float
    head_roll_amp: float
    head_freq: float
    head_noise: float  # share of smooth noise in the head motion (0 = pure sinusoid)
    pose_bias: tuple[float, float, float]  # mean (yaw, pitch, roll): a habitual head tilt
    nod_gain: float  # extra pitch (rad) on stressed syllables
    # eyes
    blink_rate_per_min: float
    blink_regularity: float  # gamma shape of the inter-blink interval (higher = more regular)
    gaze_bias: tuple[float, float]  # habitual gaze (yaw, pitch)
    saccade_rate: float  # gaze shifts per second
    saccade_amp: float  # std of a gaze shift
    # expression
    smile: float  # baseline mouthSmile
    brow_raise: float  # baseline browInnerUp / browOuterUp
    brow_down: float  # baseline browDown
    eye_squint: float  # baseline eyeSquint
    brow_emphasis: float  # browInnerUp added on stressed syllables
    articulation: float  # scale of mouth movements (1 = neutral)
    rounding: float  # scale of lip rounding (funnel/pucker) on rounded vowels

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


ARCHETYPES: tuple[SpeakerStyle, ...] = (
    # calm, low-voiced American speaker: small slow head motion, few blinks, steady slightly-down gaze
    SpeakerStyle("synth_en_m0", "en", VoiceSettings("en-us+m3", rate=150, pitch=25, pitch_range=40),
                 head_yaw_amp=0.035, head_pitch_amp=0.02, head_roll_amp=0.012, head_freq=0.3, head_noise=0.25,
                 pose_bias=(0.02, 0.03, 0.0), nod_gain=0.01,
                 blink_rate_per_min=9.0, blink_regularity=12.0, gaze_bias=(0.0, 0.08), saccade_rate=0.15,
                 saccade_amp=0.03, smile=0.12, brow_raise=0.0, brow_down=0.1, eye_squint=0.05,
                 brow_emphasis=0.1, articulation=0.8, rounding=0.8),
    # animated, high-voiced British speaker: large fast head motion, frequent blinks, glances to the side, smiley
    SpeakerStyle("synth_en_f1", "en", VoiceSettings("en+f3", rate=175, pitch=85, pitch_range=70),
                 head_yaw_amp=0.13, head_pitch_amp=0.06, head_roll_amp=0.05, head_freq=0.8, head_noise=0.25,
                 pose_bias=(-0.03, -0.02, 0.04), nod_gain=0.04,
                 blink_rate_per_min=30.0, blink_regularity=12.0, gaze_bias=(-0.12, -0.02), saccade_rate=0.8,
                 saccade_amp=0.12, smile=0.55, brow_raise=0.3, brow_down=0.0, eye_squint=0.2,
                 brow_emphasis=0.5, articulation=1.15, rounding=1.0),
    # serious Mandarin speaker: moderate head motion, medium blink rate, gaze up-left, frowning brows
    SpeakerStyle("synth_zh_m2", "zh", VoiceSettings("cmn+m1", rate=140, pitch=80, pitch_range=50),
                 head_yaw_amp=0.07, head_pitch_amp=0.035, head_roll_amp=0.02, head_freq=0.5, head_noise=0.25,
                 pose_bias=(0.05, -0.04, -0.03), nod_gain=0.03,
                 blink_rate_per_min=18.0, blink_regularity=12.0, gaze_bias=(0.1, -0.08), saccade_rate=0.4,
                 saccade_amp=0.06, smile=0.0, brow_raise=0.0, brow_down=0.35, eye_squint=0.1,
                 brow_emphasis=0.2, articulation=1.0, rounding=1.1),
    # lively Mandarin speaker: quick bobbing head, many blinks, gaze to the right and down, rounded lips
    SpeakerStyle("synth_zh_f3", "zh", VoiceSettings("cmn+f2", rate=165, pitch=55, pitch_range=60),
                 head_yaw_amp=0.1, head_pitch_amp=0.05, head_roll_amp=0.03, head_freq=1.25, head_noise=0.25,
                 pose_bias=(-0.06, 0.0, -0.05), nod_gain=0.05,
                 blink_rate_per_min=42.0, blink_regularity=12.0, gaze_bias=(-0.05, 0.12), saccade_rate=0.6,
                 saccade_amp=0.08, smile=0.3, brow_raise=0.15, brow_down=0.0, eye_squint=0.0,
                 brow_emphasis=0.35, articulation=1.05, rounding=1.3),
)

# voice variants used for speakers beyond the archetypes (same language, different timbre)
_EXTRA_VARIANTS: dict[str, tuple[str, ...]] = {
    "en-us": ("m1", "m2", "m4", "m7"),
    "en": ("f1", "f4", "f2", "m5"),
    "cmn": ("m2", "m3", "f1", "f4"),
}


def _jitter(style: SpeakerStyle, index: int, rng: np.random.Generator) -> SpeakerStyle:
    """A new speaker derived from ``style``: another voice variant and scaled motion/expression habits."""
    lang_voice = style.voice.name.split("+")[0]
    variants = _EXTRA_VARIANTS[lang_voice]
    variant = variants[(index // len(ARCHETYPES) - 1) % len(variants)]
    scale = lambda lo, hi: float(rng.uniform(lo, hi))
    voice = VoiceSettings(
        f"{lang_voice}+{variant}",
        rate=int(np.clip(style.voice.rate * scale(0.85, 1.15), 110, 230)),
        pitch=int(np.clip(style.voice.pitch + rng.integers(-15, 16), 5, 95)),
        pitch_range=int(np.clip(style.voice.pitch_range + rng.integers(-15, 16), 10, 90)),
    )
    return dataclasses.replace(
        style,
        speaker_id=f"synth_{style.language}_{'m' if 'm' in variant else 'f'}{index}",
        voice=voice,
        head_yaw_amp=style.head_yaw_amp * scale(0.7, 1.4),
        head_pitch_amp=style.head_pitch_amp * scale(0.7, 1.4),
        head_roll_amp=style.head_roll_amp * scale(0.7, 1.4),
        head_freq=style.head_freq * scale(0.75, 1.3),
        pose_bias=tuple(float(b + rng.normal(0, 0.02)) for b in style.pose_bias),
        blink_rate_per_min=float(np.clip(style.blink_rate_per_min * scale(0.7, 1.4), 4, 50)),
        gaze_bias=tuple(float(b + rng.normal(0, 0.04)) for b in style.gaze_bias),
        smile=float(np.clip(style.smile + rng.normal(0, 0.1), 0, 0.8)),
        brow_raise=float(np.clip(style.brow_raise + rng.normal(0, 0.08), 0, 0.6)),
        brow_down=float(np.clip(style.brow_down + rng.normal(0, 0.08), 0, 0.6)),
    )


def make_speakers(num_speakers: int, seed: int) -> list[SpeakerStyle]:
    """``num_speakers`` speakers: the four archetypes first (fixed), then seeded variants cycling over them."""
    if num_speakers < 1:
        raise ValueError(f"num_speakers must be >= 1, got {num_speakers}")
    rng = np.random.default_rng([seed, 7919])
    speakers = list(ARCHETYPES[:num_speakers])
    for index in range(len(ARCHETYPES), num_speakers):
        speakers.append(_jitter(ARCHETYPES[index % len(ARCHETYPES)], index, rng))
    return speakers


Range = tuple[float, float]


@dataclass(frozen=True)
class StyleRanges:
    """Where ``style_mode=sampled`` draws each speaker's habits from (low, high). Amplitudes in radians.

    Dynamic habits (head-motion amplitude and rhythm, nods, blinks, saccades, articulation, speaking rate) are what a
    model must read from the reference clip's motion, not from any single frame; static ones (mean pose, gaze, smile,
    brows, squint, voice pitch) are visible in one frame or one second of audio.
    """

    head_amp: Range = (0.02, 0.15)  # yaw amplitude; pitch and roll are drawn as a share of it
    head_pitch_share: Range = (0.35, 0.7)
    head_roll_share: Range = (0.2, 0.45)
    head_freq: Range = (0.25, 1.4)
    nod_gain: Range = (0.0, 0.06)
    pose_bias: Range = (-0.06, 0.06)  # each of yaw, pitch, roll
    blink_rate_per_min: Range = (6.0, 45.0)
    saccade_rate: Range = (0.1, 1.0)
    saccade_amp: Range = (0.02, 0.12)
    gaze_bias: Range = (-0.12, 0.12)  # each of yaw, pitch
    smile: Range = (0.0, 0.55)
    brow_raise: Range = (0.0, 0.3)
    brow_down: Range = (0.0, 0.35)
    eye_squint: Range = (0.0, 0.2)
    brow_emphasis: Range = (0.05, 0.5)
    articulation: Range = (0.75, 1.2)
    rounding: Range = (0.8, 1.3)
    voice_pitch: Range = (15.0, 90.0)  # espeak base pitch 0-100
    voice_pitch_range: Range = (30.0, 75.0)
    voice_rate: Range = (130.0, 190.0)  # words per minute

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            lo, hi = getattr(self, f.name)
            if not lo <= hi:
                raise ValueError(f"style range {f.name} must have low <= high, got ({lo}, {hi})")


# espeak voices (language voice, variants) per corpus language; sampled speakers cycle through them
_SAMPLED_VOICES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "en": (("en-us", ("m3", "f3", "m1", "f1", "m7", "f4", "m2", "f2")), ("en", ("f3", "m5", "f1", "m2", "f4", "m4"))),
    "zh": (("cmn", ("m1", "f2", "m2", "f1", "m3", "f4")),),
}


def _stratified(rng: np.random.Generator, n: int, bounds: Range) -> np.ndarray:
    """``n`` values spread over ``bounds``: one uniform draw in each of n equal strata, in random order (a Latin
    hypercube when done per parameter), so even a few speakers cover the whole range of every habit."""
    lo, hi = bounds
    return lo + (hi - lo) * (rng.permutation(n) + rng.random(n)) / n  # (n,)


def sample_speakers(num_speakers: int, seed: int, ranges: StyleRanges = StyleRanges(),
                    languages: tuple[str, ...] = ("en", "zh")) -> list[SpeakerStyle]:
    """``num_speakers`` speakers whose habits are drawn independently from ``ranges`` (stratified per parameter);
    languages alternate in the given order, voices cycle through espeak variants of each language."""
    if num_speakers < 1:
        raise ValueError(f"num_speakers must be >= 1, got {num_speakers}")
    unknown = [lang for lang in languages if lang not in _SAMPLED_VOICES]
    if not languages or unknown:
        raise ValueError(f"languages must be a non-empty subset of {sorted(_SAMPLED_VOICES)}, got {languages}")
    ranges.validate()
    rng = np.random.default_rng([seed, 104729])
    n = num_speakers
    draw = {f.name: _stratified(rng, n, getattr(ranges, f.name)) for f in dataclasses.fields(ranges)}
    bias = {name: rng.uniform(*getattr(ranges, name), size=(n, k)) for name, k in (("pose_bias", 3), ("gaze_bias", 2))}
    speakers: list[SpeakerStyle] = []
    for i in range(n):
        language = languages[i % len(languages)]
        nth = i // len(languages)  # how many speakers of this language came before
        families = _SAMPLED_VOICES[language]
        base, variants = families[nth % len(families)]
        variant = variants[(nth // len(families)) % len(variants)]
        v = {name: float(values[i]) for name, values in draw.items()}
        voice = VoiceSettings(f"{base}+{variant}", rate=int(round(v["voice_rate"])), pitch=int(round(v["voice_pitch"])),
                              pitch_range=int(round(v["voice_pitch_range"])))
        speakers.append(SpeakerStyle(
            speaker_id=f"sampled{i:03d}_{language}_{variant[0]}", language=language, voice=voice,
            head_yaw_amp=v["head_amp"], head_pitch_amp=v["head_amp"] * v["head_pitch_share"],
            head_roll_amp=v["head_amp"] * v["head_roll_share"], head_freq=v["head_freq"], head_noise=0.25,
            pose_bias=tuple(float(b) for b in bias["pose_bias"][i]), nod_gain=v["nod_gain"],
            blink_rate_per_min=v["blink_rate_per_min"], blink_regularity=12.0,
            gaze_bias=tuple(float(b) for b in bias["gaze_bias"][i]), saccade_rate=v["saccade_rate"],
            saccade_amp=v["saccade_amp"], smile=v["smile"], brow_raise=v["brow_raise"], brow_down=v["brow_down"],
            eye_squint=v["eye_squint"], brow_emphasis=v["brow_emphasis"], articulation=v["articulation"],
            rounding=v["rounding"],
        ))
    return speakers
