"""MMKPConfig validation: each error names the field and the fix."""

from __future__ import annotations

import pytest

from mmkp.model.mmkp.config import MMKPConfig


def test_defaults_are_the_offline_glove_setup():
    config = MMKPConfig()
    assert (config.embeddings, config.emb_size, config.size) == ("glove-6b-50d", 50, 300)
    assert config.uses_matching and config.uses_regions


def test_switch_properties():
    assert not MMKPConfig(use_image=False).uses_matching
    assert not MMKPConfig(noise_filter=False).uses_regions
    assert MMKPConfig(image_text_matching=False).uses_regions


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"emb_size": 100}, "has 50 dimensions but emb_size is 100: set emb_size: 50"),
        ({"hidden_size": 5, "num_heads": 4}, r"2 \* hidden_size \(10\) must be divisible"),
        ({"embeddings": "file"}, "embedding_file must be set exactly when"),
        ({"embeddings": "random", "embedding_file": "x.txt"}, "embedding_file must be set"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"classifier_top_k": 0}, "classifier_top_k must be >= 1, got 0"),
    ],
)
def test_invalid_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MMKPConfig(**kwargs)


def test_label_smoothing_outside_zero_to_one_is_refused():
    from mmkp.model.mmkp.config import MMKPConfig

    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        MMKPConfig(label_smoothing=1.0)
