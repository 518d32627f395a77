"""The learning study of issue 11 (docs/results_synthetic.md): does a DiT trained on the synthetic corpus mimic the
reference's dynamic style and voice, keep its mouth in sync with its own speech and follow the text?

items (held-out reference/target pairs) -> generate (conditions: full, no reference, no guidance) -> features
(style, voice, sync, text) -> identify (speaker identification, Fréchet same vs other speaker) -> report.
"""
