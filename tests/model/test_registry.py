"""The registry's table of the package's members matches the subpackages that hold them."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import mmkp.model as package
from mmkp.model.config import ModelConfig
from mmkp.model.registry import MEMBER_PACKAGES, config_class, model_names


def test_every_member_package_is_in_the_table_with_its_own_names() -> None:
    subpackages = {
        f"{package.__name__}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if info.ispkg and info.name != "modules"  # the shared components, not a member
    }
    assert set(MEMBER_PACKAGES.values()) == subpackages
    for module in subpackages:
        registrations = importlib.import_module(module).REGISTRATIONS
        assert set(registrations) == {n for n, m in MEMBER_PACKAGES.items() if m == module}


def test_a_name_gives_its_members_config_class() -> None:
    assert set(MEMBER_PACKAGES) <= set(model_names())
    for name in MEMBER_PACKAGES:
        cls = config_class(name)
        own = cls.__dataclass_fields__["name"].default
        assert issubclass(cls, ModelConfig) and own in (name, "copy")  # att and copy share one


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'nope'; known: .*att, avg, ban"):
        config_class("nope")
