"""Training checkpoints: optimizer and RNG state survive a save/restore, without pickle."""

import json

import pytest
import torch
from safetensors import safe_open

from mmkp.data.vocab import LabelSet, Vocab
from mmkp.inference.checkpoint import export_model, load_checkpoint
from mmkp.training.state import (
    TrainerState,
    read_trainer_state,
    restore_training,
    save_training_checkpoint,
)

from .conftest import MODEL_FILES, TRAINING_FILES


def adam_after_two_steps() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).pow(2).mean().backward()
        optimizer.step()
    return model, optimizer


def save(directory, model, optimizer, tiny_config, **state):
    return save_training_checkpoint(
        directory,
        model=model,
        vocab=Vocab(["<pad>", "<unk>", "<bos>", "<eos>", "<seg>", "kca"]),
        labels=LabelSet(["kca"]),
        config=tiny_config.inference_config(backbone=None),
        trainer=TrainerState(stage="stage1", epoch=2, **state),
        optimizer=optimizer,
    )


def test_optimizer_and_rng_state_round_trip_exactly(tiny_config, tmp_path):
    model, optimizer = adam_after_two_steps()
    save(tmp_path / "ckpt", model, optimizer, tiny_config, history=[{"epoch": 1}])
    expected_draw = torch.rand(3)

    _, fresh = adam_after_two_steps()
    fresh.state.clear()
    restore_training(tmp_path / "ckpt", fresh)
    assert torch.equal(torch.rand(3), expected_draw)  # the RNG continues where it was saved
    saved, restored = optimizer.state_dict(), fresh.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    assert saved["state"].keys() == restored["state"].keys() == {0, 1, 2, 3}
    for index, values in saved["state"].items():
        for name, value in values.items():
            assert torch.equal(restored["state"][index][name], value), (index, name)
    state = read_trainer_state(tmp_path / "ckpt")
    assert (state.stage, state.epoch, state.history, state.finished) == (
        "stage1",
        2,
        [{"epoch": 1}],
        False,
    )


def test_files_are_safetensors_and_json_only(tiny_config, tmp_path):
    model, optimizer = adam_after_two_steps()
    directory = save(tmp_path / "ckpt", model, optimizer, tiny_config)
    assert sorted(p.name for p in directory.iterdir()) == TRAINING_FILES
    with safe_open(str(directory / "trainer_state.safetensors"), framework="pt") as handle:
        assert "rng.torch" in handle.keys()  # noqa: SIM118
        assert json.loads(handle.metadata()["optimizer"])["param_groups"][0]["lr"] == 0.01
    inference = tiny_config.inference_config(backbone=None)
    assert json.loads((directory / "config.json").read_text()) == inference.to_dict()
    exported = export_model(directory, tmp_path / "model")
    assert sorted(p.name for p in exported.iterdir()) == MODEL_FILES
    assert read_trainer_state(exported) is None


def test_saving_over_a_checkpoint_replaces_it_and_leaves_no_temporary_files(tiny_config, tmp_path):
    model, optimizer = adam_after_two_steps()
    save(tmp_path / "last", model, optimizer, tiny_config)
    save(tmp_path / "last", model, optimizer, tiny_config, finished=True)
    assert read_trainer_state(tmp_path / "last").finished
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_loading_a_directory_that_is_not_a_checkpoint_names_the_missing_file(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"not a checkpoint directory \(no config.json\)"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no trainer_state\.safetensors to resume from"):
        restore_training(tmp_path, adam_after_two_steps()[1])
