"""The demo's settings: configs/demo.yaml (which composes infer.yaml's model keys) + ``key=value`` overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # the repository's configs/ (editable install)


@dataclass(frozen=True)
class DemoSettings:
    """What the web server itself needs (the model keys go to `pipeline_config`)."""

    host: str = "127.0.0.1"
    port: int = 7860  # 0: a free port
    outputs: Path = Path("outputs/demo")
    keep_jobs: int = 20
    max_text_chars: int = 2000
    max_upload_mb: int = 200
    open_browser: bool = False

    @classmethod
    def from_config(cls, cfg: DictConfig) -> DemoSettings:
        if int(cfg.keep_jobs) < 1 or int(cfg.max_text_chars) < 1 or int(cfg.max_upload_mb) < 1:
            raise ValueError("keep_jobs, max_text_chars and max_upload_mb must be >= 1")
        if not 0 <= int(cfg.port) < 65536:
            raise ValueError(f"port must be 0..65535, got {cfg.port}")
        return cls(host=str(cfg.host), port=int(cfg.port), outputs=Path(cfg.outputs), keep_jobs=int(cfg.keep_jobs),
                   max_text_chars=int(cfg.max_text_chars), max_upload_mb=int(cfg.max_upload_mb),
                   open_browser=bool(cfg.open_browser))


def load_config(overrides: list[str], config_dir: Path = CONFIG_DIR) -> DictConfig:
    """configs/demo.yaml with Hydra-style overrides (``dit=... renderer=... steps=8 guidance.text=2``)."""
    from hydra import compose, initialize_config_dir

    if not (config_dir / "demo.yaml").is_file():
        raise FileNotFoundError(f"{config_dir / 'demo.yaml'} not found: run the demo from an editable install "
                                "(pip install -e '.[demo]') of the repository")
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose("demo", overrides=list(overrides))
