"""OmniTalker: text + reference video -> speech and a lip-synced talking head, generated jointly.

Reimplementation of "OmniTalker: One-shot Real-time Text-Driven Talking Audio-Video Generation With
Multimodal Style Mimicking" (arXiv 2504.02433). See README.md and ../shared/SPEC.md.
"""

__version__ = "0.1.0"
