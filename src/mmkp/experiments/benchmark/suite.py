"""A benchmark suite: which systems a table compares, their groups, and each one's config per
kind of data. Suites are data (YAML, read through `mmkp.config_loader`), not code: the
packaged ones are `mmkp/configs/benchmark/<name>.yaml`; any other path is read as a file.

    title: "Table 1: ..."
    reference: mmkp                       # the system every other is compared with
    metrics: [F1@1, F1@3, MAP@5]          # the first one is tested for significance
    groups:                               # in table order
      - {name: image-only, title: Image-only}
      - {name: ours, title: Ours, baseline: false}
    systems:
      - key: vgg                          # run folder name, `--systems` name
        name: VGG                         # as the table shows it
        group: image-only
        needs_images: true                # not run on data without images (the real posts)
        real: null                        # no config for this data: listed as not run
        generated: {config: configs/baselines/vgg-generated.yaml, set: [...]}
      - {key: knn, name: kNN, group: retrieval, retrieval: knn, real: {config: configs/cmkp.yaml}}

A config path is relative to the project root (the `root` the suite is planned against), or
`mmkp:<path>` inside the installed package (`mmkp:configs/synthetic.yaml`). A retrieval
system (`retrieval: NAME`, a `mmkp baseline` name) reads its posts from its config's `data`
section and is run once: it is deterministic. `skip: REASON` lists a system as not run on
that data for a reason the runner cannot see (e.g. no pretrained weights offline).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

from mmkp.config_loader import ConfigError, from_dict

DataKind = Literal["real", "generated"]
DATA_KINDS: tuple[DataKind, ...] = ("real", "generated")
PACKAGE_PREFIX = "mmkp:"


@dataclass(frozen=True)
class RunSpec:
    """How a system runs on one kind of data: a config and `--set` overrides, or a reason
    it does not run."""

    config: str | None = None
    set: tuple[str, ...] = ()
    skip: str | None = None

    def __post_init__(self) -> None:
        if (self.config is None) == (self.skip is None):
            raise ValueError("give either a config or a skip reason")


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    baseline: bool = True  # its systems compete for "best baseline"


@dataclass(frozen=True)
class System:
    key: str
    name: str
    group: str
    real: RunSpec | None = None
    generated: RunSpec | None = None
    retrieval: str | None = None  # a non-neural baseline's name (mmkp.retrieval)
    needs_images: bool = False
    requires: tuple[str, ...] = ()  # Python modules it needs (an optional extra)
    extra: str | None = None  # the pyproject extra that installs `requires`
    paper: tuple[float, ...] = ()  # the paper's scores, in the order of the suite's metrics

    def run_spec(self, data: DataKind) -> RunSpec | None:
        return self.real if data == "real" else self.generated


@dataclass(frozen=True)
class Suite:
    title: str
    reference: str
    groups: tuple[Group, ...]
    systems: tuple[System, ...]
    metrics: tuple[str, ...] = ("F1@1", "F1@3", "MAP@5")

    def __post_init__(self) -> None:
        # The metrics module loads the Porter stemmer: imported here, not for `--help`.
        from mmkp.evaluation.metrics import MAIN_METRICS

        group_names = [group.name for group in self.groups]
        keys = [system.key for system in self.systems]
        if len(set(keys)) != len(keys):
            raise ValueError(f"system keys must be distinct, got {keys}")
        if self.reference not in keys:
            raise ValueError(f"reference {self.reference!r} is not one of the systems {keys}")
        for metric in self.metrics:
            if metric not in MAIN_METRICS:
                raise ValueError(f"unknown metric {metric!r}; choose from {list(MAIN_METRICS)}")
        for system in self.systems:
            if system.group not in group_names:
                raise ValueError(
                    f"system {system.key!r}: group {system.group!r} is not one of {group_names}"
                )
            if system.paper and len(system.paper) != len(self.metrics):
                raise ValueError(
                    f"system {system.key!r}: {len(system.paper)} paper scores for "
                    f"{len(self.metrics)} metrics {list(self.metrics)}"
                )

    def group(self, name: str) -> Group:
        return next(group for group in self.groups if group.name == name)

    def select(self, keys: list[str]) -> Suite:
        """The suite with only the named systems (in the suite's order); the reference stays
        when it is named, else the first selected system takes its place."""
        known = [system.key for system in self.systems]
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise ValueError(f"unknown system {unknown[0]!r}; the suite has {', '.join(known)}")
        systems = tuple(system for system in self.systems if system.key in keys)
        reference = self.reference if self.reference in keys else systems[0].key
        return Suite(self.title, reference, self.groups, systems, self.metrics)


def load_suite(name_or_path: str | Path) -> Suite:
    """A packaged suite by name (`table1`, `table2`) or a suite YAML file."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        packaged = resources.files("mmkp") / "configs" / "benchmark" / f"{name_or_path}.yaml"
        if not packaged.is_file():
            raise ValueError(
                f"no packaged suite {name_or_path!r} (packaged: {', '.join(packaged_suites())});"
                " or give a suite .yaml file"
            )
        return _parse(packaged.read_text(encoding="utf-8"), source=f"suite {name_or_path}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such suite file")
    return _parse(path.read_text(encoding="utf-8"), source=str(path))


def packaged_suites() -> list[str]:
    folder = resources.files("mmkp") / "configs" / "benchmark"
    return sorted(item.name.removesuffix(".yaml") for item in folder.iterdir())


def _parse(text: str, *, source: str) -> Suite:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from exc
    return from_dict(Suite, raw, source=source)


def resolve_config(config: str, root: Path) -> Path:
    """A suite's config path as a file path: `mmkp:` inside the package, else under `root`."""
    if config.startswith(PACKAGE_PREFIX):
        packaged = resources.files("mmkp") / config.removeprefix(PACKAGE_PREFIX)
        return Path(str(packaged))
    return root / config
