"""NLTK's PorterStemmer without `import nltk`.

The evaluator stems with NLTK's PorterStemmer (`mmkp.evaluation.phrase_match`), but importing
it runs `nltk/__init__.py`, which imports scipy.stats, scikit-learn and pandas when they are
installed: 170 MB of resident memory and about a second in every process that scores
(`mmkp train`, `evaluate`, `benchmark`, the demo; benchmarks/RESULTS.md, "Issue 21, session
6"). So the stemmer's own files (nltk/stem/porter.py and the few nltk modules it imports) run
here as private modules, found where nltk is installed: the same code, so the same stems, and
nltk's package stays unloaded for anyone else. Where that cannot work (nltk laid out
otherwise), nltk is imported as usual.
"""

from __future__ import annotations

import builtins
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

PACKAGE = "nltk"
STEMMER_MODULE = "nltk.stem.porter"


def porter_stemmer_class() -> type:
    """nltk.stem.porter.PorterStemmer: loaded privately (module docstring), or by importing
    nltk when it is imported already or its files cannot be run alone."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nltk is not installed: pip install -e . installs it")
    if PACKAGE not in sys.modules:  # once nltk is loaded there is nothing left to save
        try:
            root = Path(spec.submodule_search_locations[0])
            return _PrivateModules(root).load(STEMMER_MODULE).PorterStemmer
        except (ImportError, OSError, AttributeError, SyntaxError):
            pass  # another layout of nltk's files: import it as usual
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer


class _PrivateModules:
    """nltk modules run from their files, each once, outside sys.modules: their imports of
    other nltk modules are served the same way; every other import is the usual one."""

    def __init__(self, root: Path):
        self._root = root
        self._loaded: dict[str, types.ModuleType] = {}
        self._builtins = dict(vars(builtins), __import__=self._import)

    def load(self, name: str) -> types.ModuleType:
        if name not in self._loaded:
            path = self._root.joinpath(*name.split(".")[1:]).with_suffix(".py")
            module = types.ModuleType(name)
            module.__file__ = str(path)
            module.__dict__["__builtins__"] = self._builtins
            code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
            self._loaded[name] = module
            exec(code, module.__dict__)  # nltk's own file, found by importlib
        return self._loaded[name]

    def _import(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        if level == 0 and name == PACKAGE and fromlist:  # from nltk import redos
            return types.SimpleNamespace(**{part: self.load(f"{name}.{part}") for part in fromlist})
        if level == 0 and name.startswith(PACKAGE + ".") and fromlist:  # from nltk.x import y
            return self.load(name)
        return builtins.__import__(name, globals, locals, fromlist, level)
