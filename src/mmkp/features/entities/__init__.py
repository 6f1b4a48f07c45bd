"""Visual entity providers (X_E): `local` ImageNet classifier, `precomputed`, `baidu` web API."""

from __future__ import annotations

from mmkp.features.entities.base import EntityError, EntityProvider, EntityServiceError

PROVIDERS = ("local", "precomputed", "baidu")


def make_provider(name: str, *, model: str = "efficientnet-lite0") -> EntityProvider:
    """The provider selected by `name`; `model` is the classifier of the `local` provider."""
    if name == "local":
        from mmkp.features.entities.local import LocalEntities, LocalEntityConfig

        return LocalEntities(LocalEntityConfig(model=model))
    if name == "precomputed":
        from mmkp.features.entities.precomputed import PrecomputedEntities

        return PrecomputedEntities()
    if name == "baidu":
        from mmkp.features.entities.baidu import BaiduClient, BaiduEntities

        return BaiduEntities(BaiduClient.from_env())
    raise ValueError(f"unknown entity provider {name!r}; choose one of {', '.join(PROVIDERS)}")


__all__ = ["PROVIDERS", "EntityError", "EntityProvider", "EntityServiceError", "make_provider"]
