"""Web demo (Gradio): ``python -m omnitalker.demo`` or ``python scripts/demo.py`` (needs the ``demo`` extra)."""
