"""Synthetic talking-head corpus: espeak-ng speech in several voices, speech-driven mouth codes, per-speaker motion
style, and frames rendered by warping a real face photo with code-driven keypoints (see docs/synthetic_corpus.md).

Only PyPI packages are needed (espeakng-loader, scikit-image, PyAV, torch, scipy, soxr); nothing is downloaded.
"""

from data_prep.synthetic.codes import blink_onsets, frame_energy, session_codes, viseme
from data_prep.synthetic.face_render import FaceRenderer
from data_prep.synthetic.face_rig import FaceRig, default_rig, face_texture
from data_prep.synthetic.generate import (
    PRESETS,
    SyntheticCorpusConfig,
    SyntheticCorpusError,
    SyntheticSession,
    generate_corpus,
    generate_session,
)
from data_prep.synthetic.mp4 import Mp4Writer
from data_prep.synthetic.sentences import is_heldout_sentence, pick_sentences
from data_prep.synthetic.session import ClipSpan, SessionSpeech, build_session
from data_prep.synthetic.speech import SpeechSynthesisError, Utterance, VoiceSettings, synthesize, synthesize_many
from data_prep.synthetic.style import ARCHETYPES, SpeakerStyle, StyleRanges, make_speakers, sample_speakers

__all__ = [
    "ARCHETYPES", "PRESETS", "ClipSpan", "FaceRenderer", "FaceRig", "Mp4Writer", "SessionSpeech", "SpeakerStyle",
    "SpeechSynthesisError", "StyleRanges", "SyntheticCorpusConfig", "SyntheticCorpusError", "SyntheticSession", "Utterance",
    "VoiceSettings", "blink_onsets", "build_session", "default_rig", "face_texture", "frame_energy",
    "generate_corpus", "generate_session", "is_heldout_sentence", "make_speakers", "pick_sentences", "sample_speakers", "session_codes", "synthesize",
    "synthesize_many", "viseme",
]
