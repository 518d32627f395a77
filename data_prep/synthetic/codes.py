"""Visual codes (61-D per frame) for a synthetic session: mouth from the speech, everything else from the style.

Mouth: espeak's phoneme events give viseme targets (vowel openness, lip rounding, spreading, bilabial closure,
lip-to-teeth contact) on a 200 Hz timeline, smoothed for coarticulation; the speech energy envelope scales the jaw.
Both are sampled at the centre of each video frame's display interval [i/fps, (i+1)/fps), i.e. the codes of frame i
describe the audio samples [i*spf, (i+1)*spf) — mouth and sound are simultaneous (no lag).
Style (per speaker, see ``style.py``): head motion = drifting sinusoid at the speaker's frequency + smooth noise +
nods on stressed words; blinks from a gamma renewal process at the speaker's rate; gaze = habitual offset with
saccades; expression bias (smile, brows, squint) with brow raises on stressed words. Blendshapes are clipped to
[0, 1]; pose and gaze follow ``omnitalker.face.pose`` (radians; translation in face units, tz = log scale).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from data_prep.synthetic.session import SessionSpeech
from data_prep.synthetic.style import SpeakerStyle
from omnitalker.constants import BLENDSHAPE_NAMES, CODE_DIM, EYE_SLICE, POSE_SLICE

FINE_RATE = 200.0  # Hz, timeline of the viseme targets before they are sampled at the video rate
COARTICULATION_S = 0.025  # std of the Gaussian that blends neighbouring visemes
ENERGY_RANGE_DB = 40.0  # energy below (session peak - this) counts as silence

_B = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}

# viseme targets: (jaw opening, lip rounding, lip spreading, bilabial closure, lower lip to upper teeth)
_OPEN_VOWELS = set("aɑæɐʌɒ")
_MID_VOWELS = set("eɛəɜɚɝɤoɔøœ")
_CLOSE_VOWELS = set("iɪyʏuʊɯɨʉ")
_ROUNDED = set("oɔuʊyʏøœɒw")
_SPREAD = set("iɪeɛæ")


def viseme(phoneme: str) -> tuple[float, float, float, float, float]:
    """IPA phoneme (as espeak reports it, stress marks allowed) -> viseme targets in [0, 1]."""
    core = phoneme.replace("ˈ", "").replace("ˌ", "").replace("ː", "").strip()
    if not core:
        return (0.0, 0.0, 0.0, 0.0, 0.0)
    first = core[0]
    if first in "pbm":
        return (0.04, 0.0, 0.0, 1.0, 0.0)
    if first in "fv":
        return (0.1, 0.0, 0.0, 0.0, 1.0)
    if first == "w":
        return (0.15, 0.9, 0.0, 0.0, 0.0)
    if core[:2] in ("tʃ", "dʒ", "tɕ", "dʑ") or first in "ʃʒɕʑʂʐ":
        return (0.15, 0.55, 0.0, 0.0, 0.0)
    vowel = next((c for c in core if c in _OPEN_VOWELS | _MID_VOWELS | _CLOSE_VOWELS), None)
    if vowel is not None:
        jaw = 0.8 if vowel in _OPEN_VOWELS else 0.5 if vowel in _MID_VOWELS else 0.25
        rounded = 1.0 if vowel in _ROUNDED else 0.0
        spread = 1.0 if vowel in _SPREAD else 0.0
        return (jaw, rounded, spread, 0.0, 0.0)
    return (0.18, 0.0, 0.1, 0.0, 0.0)  # other consonants: slightly open, tongue does the work


def frame_energy(audio: np.ndarray, spf: int) -> np.ndarray:
    """(frames*spf,) audio -> (frames,) energy in [0, 1]: frame RMS in dB, 0 at peak-40 dB, 1 at the peak."""
    frames = audio.shape[0] // spf
    rms = np.sqrt(np.mean(audio[: frames * spf].astype(np.float64).reshape(frames, spf) ** 2, axis=1))
    db = 20.0 * np.log10(rms + 1e-8)
    peak = np.percentile(db, 98)
    return np.clip((db - (peak - ENERGY_RANGE_DB)) / ENERGY_RANGE_DB, 0.0, 1.0)


def _viseme_timeline(speech: SessionSpeech, num_fine: int) -> np.ndarray:
    """(num_fine, 5) viseme targets at FINE_RATE; a phoneme holds until the next one or the end of its utterance."""
    out = np.zeros((num_fine, 5))
    starts = np.array([c.speech_start for c in speech.clips])
    ends = np.array([c.speech_end for c in speech.clips])
    events = speech.phonemes
    for k, ev in enumerate(events):
        utterance = max(int(np.searchsorted(starts, ev.start + 1e-6)) - 1, 0)
        stop = ends[utterance]
        if k + 1 < len(events):
            stop = min(stop, events[k + 1].start)
        a, b = round(ev.start * FINE_RATE), round(stop * FINE_RATE)
        out[max(a, 0):min(b, num_fine)] = viseme(ev.phoneme)
    return out


def _smooth_noise(rng: np.random.Generator, n: int, fps: float, cutoff_hz: float) -> np.ndarray:
    """Unit-std low-pass Gaussian noise with most of its energy below ``cutoff_hz``."""
    sigma = fps / (2.0 * np.pi * cutoff_hz)
    pad = int(4 * sigma) + 1
    x = gaussian_filter1d(rng.standard_normal(n + 2 * pad), sigma)[pad:pad + n]
    return x / (x.std() + 1e-12)


def _drifting_sine(rng: np.random.Generator, t: np.ndarray, freq: float, drift: float = 0.35) -> np.ndarray:
    """sqrt(2) * sin of a phase advancing at ``freq`` Hz with a slow random walk (unit std, quasi-periodic)."""
    dt = np.diff(t, prepend=t[0])
    walk = np.cumsum(rng.standard_normal(t.shape[0]) * drift * np.sqrt(dt))
    return np.sqrt(2.0) * np.sin(2.0 * np.pi * freq * t + rng.uniform(0, 2 * np.pi) + walk)


def _emphasis(speech: SessionSpeech, energy: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(frames,) in [0, 1]: bumps after the onsets of some loud words (the stressed ones)."""
    out = np.zeros_like(t)
    for word in speech.words:
        i = min(int(word.start * speech.fps), energy.shape[0] - 1)
        loud = energy[i:i + max(1, int(0.25 * speech.fps))].max()
        if rng.random() < 0.45 * loud:
            out += loud * np.exp(-0.5 * ((t - word.start - 0.1) / 0.12) ** 2)
    return np.clip(out, 0.0, 1.0)


def _blinks(rng: np.random.Generator, t: np.ndarray, style: SpeakerStyle) -> tuple[np.ndarray, np.ndarray]:
    """(frames,) blink closure in [0, 1] (fast close, short hold, slower opening) and the blink onset times."""
    mean_gap = 60.0 / style.blink_rate_per_min
    k = style.blink_regularity
    onsets = []
    time = rng.uniform(0.1, mean_gap)
    while time < t[-1] + 1.0:
        onsets.append(time)
        time += max(0.35, rng.gamma(k, mean_gap / k))
    onsets_arr = np.asarray(onsets)
    d = t[:, None] - onsets_arr[None, :]  # (frames, blinks) seconds since each onset
    close, hold, opening = 0.08, 0.05, 0.16
    shape = np.where(d < 0, 0.0,
                     np.where(d < close, 0.5 - 0.5 * np.cos(np.pi * d / close),
                              np.where(d < close + hold, 1.0,
                                       np.where(d < close + hold + opening,
                                                0.5 + 0.5 * np.cos(np.pi * (d - close - hold) / opening), 0.0))))
    return np.clip(shape.sum(axis=1), 0.0, 1.0), onsets_arr


def _gaze(rng: np.random.Generator, t: np.ndarray, style: SpeakerStyle, fps: float) -> np.ndarray:
    """(frames, 2) gaze yaw/pitch: habitual offset, fixations held between Poisson saccades, tiny jitter."""
    n = t.shape[0]
    yaw = np.empty(n)
    pitch = np.empty(n)
    time, i = 0.0, 0
    while i < n:
        duration = rng.exponential(1.0 / style.saccade_rate) if style.saccade_rate > 0 else t[-1] + 1
        target = (style.gaze_bias[0] + rng.normal(0, style.saccade_amp),
                  style.gaze_bias[1] + rng.normal(0, 0.5 * style.saccade_amp))
        time += max(duration, 0.2)
        j = int(np.searchsorted(t, time))
        yaw[i:j], pitch[i:j] = target
        i = j
    gaze = np.stack([yaw, pitch], axis=1)
    gaze = gaussian_filter1d(gaze, 0.6, axis=0)  # ~40 ms saccades
    return gaze + 0.004 * rng.standard_normal(gaze.shape)


def session_codes(speech: SessionSpeech, style: SpeakerStyle, rng: np.random.Generator) -> np.ndarray:
    """(frames, 61) float32 visual codes for a whole session (continuous style state across its clips)."""
    fps = speech.fps
    n = speech.num_frames
    t = (np.arange(n) + 0.5) / fps  # centre of each frame's display interval
    codes = np.zeros((n, CODE_DIM))
    energy = frame_energy(speech.audio, speech.samples_per_frame)  # (n,)
    activity = gaussian_filter1d((energy > 0.15).astype(np.float64), 0.25 * fps)  # smooth speaking indicator

    # --- mouth -----------------------------------------------------------------------------------------------
    num_fine = int(np.ceil(n / fps * FINE_RATE)) + 1
    fine = gaussian_filter1d(_viseme_timeline(speech, num_fine), COARTICULATION_S * FINE_RATE, axis=0)
    fine_t = np.arange(num_fine) / FINE_RATE
    jaw_v, rounded, spread, closure, labiodental = (np.interp(t, fine_t, fine[:, c]) for c in range(5))
    gate = np.clip(energy * 3.0, 0.0, 1.0)  # visemes only where there is sound
    art = style.articulation
    jaw = np.clip(art * (0.35 * jaw_v * gate + 0.3 * energy ** 1.5), 0.0, 1.0)  # speech rarely opens past ~0.6
    codes[:, _B["jawOpen"]] = jaw
    codes[:, _B["mouthClose"]] = np.minimum(jaw, 0.9 * closure * gate)  # lips sealed, never more than the jaw opens
    codes[:, _B["mouthFunnel"]] = np.clip(style.rounding * 0.55 * rounded * gate, 0, 1)
    codes[:, _B["mouthPucker"]] = np.clip(style.rounding * 0.6 * rounded * gate * (1.0 - jaw), 0, 1)
    codes[:, _B["mouthRollLower"]] = np.clip(0.6 * labiodental * gate, 0, 1)
    for side in ("Left", "Right"):
        codes[:, _B[f"mouthStretch{side}"]] = np.clip(0.35 * art * spread * gate, 0, 1)
        codes[:, _B[f"mouthUpperUp{side}"]] = np.clip(0.3 * labiodental * gate + 0.1 * jaw, 0, 1)
        codes[:, _B[f"mouthLowerDown{side}"]] = np.clip(0.4 * jaw, 0, 1)
        codes[:, _B[f"mouthPress{side}"]] = np.clip(0.5 * closure * gate, 0, 1)

    # --- expression bias and emphasis ------------------------------------------------------------------------
    emphasis = _emphasis(speech, energy, t, rng)
    smile = np.clip(style.smile + 0.06 * _smooth_noise(rng, n, fps, 0.15), 0, 1)
    asym = 0.03 * _smooth_noise(rng, n, fps, 0.1)
    codes[:, _B["mouthSmileLeft"]] = np.clip(smile + asym, 0, 1)
    codes[:, _B["mouthSmileRight"]] = np.clip(smile - asym, 0, 1)
    for side in ("Left", "Right"):
        codes[:, _B[f"cheekSquint{side}"]] = np.clip(0.5 * smile, 0, 1)
        codes[:, _B[f"mouthDimple{side}"]] = np.clip(0.2 * smile, 0, 1)
        codes[:, _B[f"eyeSquint{side}"]] = np.clip(style.eye_squint + 0.25 * smile, 0, 1)
        codes[:, _B[f"browOuterUp{side}"]] = np.clip(0.7 * style.brow_raise + 0.6 * style.brow_emphasis * emphasis, 0, 1)
        codes[:, _B[f"browDown{side}"]] = np.clip(style.brow_down * (1 - 0.7 * emphasis)
                                                  + 0.03 * _smooth_noise(rng, n, fps, 0.2), 0, 1)
        codes[:, _B[f"eyeWide{side}"]] = np.clip(0.4 * style.brow_emphasis * emphasis, 0, 1)
    codes[:, _B["browInnerUp"]] = np.clip(style.brow_raise + style.brow_emphasis * emphasis
                                          + 0.04 * _smooth_noise(rng, n, fps, 0.2), 0, 1)

    # --- head pose -------------------------------------------------------------------------------------------
    amp = 0.75 + 0.25 * activity  # a little more motion while speaking
    mix = style.head_noise

    def axis(freq: float, amplitude: float) -> np.ndarray:
        return amplitude * amp * ((1 - mix) * _drifting_sine(rng, t, freq) + mix * _smooth_noise(rng, n, fps, freq))

    yaw = style.pose_bias[0] + axis(style.head_freq, style.head_yaw_amp)
    pitch = style.pose_bias[1] + axis(1.3 * style.head_freq, style.head_pitch_amp) + style.nod_gain * emphasis
    roll = style.pose_bias[2] + axis(0.7 * style.head_freq, style.head_roll_amp)
    sway = style.head_yaw_amp / 0.08
    tx = 0.03 * sway * _smooth_noise(rng, n, fps, 0.3)
    ty = 0.015 * sway * _smooth_noise(rng, n, fps, 0.3)
    tz = 0.02 * sway * _smooth_noise(rng, n, fps, 0.15)
    codes[:, POSE_SLICE] = np.stack([yaw, pitch, roll, tx, ty, tz], axis=1)

    # --- eyes ------------------------------------------------------------------------------------------------
    gaze = _gaze(rng, t, style, fps)  # (n, 2)
    codes[:, EYE_SLICE] = np.concatenate([gaze, gaze], axis=1)  # subject's left eye, then right eye
    blink, _ = _blinks(rng, t, style)
    look_down = np.clip(gaze[:, 1] / 0.3, 0, 1)
    codes[:, _B["eyeBlinkLeft"]] = np.clip(blink + 0.2 * look_down, 0, 1)
    codes[:, _B["eyeBlinkRight"]] = np.clip(0.97 * blink + 0.2 * look_down, 0, 1)
    yaw_g, pitch_g = gaze[:, 0] / 0.35, gaze[:, 1] / 0.3
    # positive gaze yaw = towards the image left = the subject's right: right eye looks out, left eye looks in
    codes[:, _B["eyeLookOutRight"]] = np.clip(yaw_g, 0, 1)
    codes[:, _B["eyeLookInLeft"]] = np.clip(yaw_g, 0, 1)
    codes[:, _B["eyeLookInRight"]] = np.clip(-yaw_g, 0, 1)
    codes[:, _B["eyeLookOutLeft"]] = np.clip(-yaw_g, 0, 1)
    for side in ("Left", "Right"):
        codes[:, _B[f"eyeLookDown{side}"]] = np.clip(pitch_g, 0, 1)
        codes[:, _B[f"eyeLookUp{side}"]] = np.clip(-pitch_g, 0, 1)

    codes[:, : len(BLENDSHAPE_NAMES)] = np.clip(codes[:, : len(BLENDSHAPE_NAMES)], 0.0, 1.0)
    return codes.astype(np.float32)


def blink_onsets(codes: np.ndarray, fps: float, threshold: float = 0.6) -> np.ndarray:
    """Times (s) where eyeBlinkLeft rises through ``threshold``: a simple blink detector for checks and tests."""
    b = codes[:, _B["eyeBlinkLeft"]]
    rising = np.nonzero((b[1:] >= threshold) & (b[:-1] < threshold))[0] + 1
    return rising / fps


