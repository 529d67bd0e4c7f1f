"""bench/ holds scripts, not a package: the tests load each one as a module, once."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.paths import REPO_ROOT


def load_bench_script(name: str) -> ModuleType:
    """bench/NAME.py as the module `bench_NAME` (registered in sys.modules, where its
    dataclasses look their module up)."""
    module_name = f"bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPO_ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
