from pathlib import Path

import pytest

from mmkp.training.config import ExperimentConfig, load_config

TINY = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"
MODEL_FILES = [
    "README.md",
    "config.json",
    "labels.json",
    "model.safetensors",
    "processor.json",
    "vocab.json",
]
TRAINING_FILES = sorted([*MODEL_FILES, "trainer_state.json", "trainer_state.safetensors"])


@pytest.fixture
def tiny_config() -> ExperimentConfig:
    """configs/tiny.yaml: a tiny model on the handmade posts in tests/training/data."""
    return load_config(TINY)
