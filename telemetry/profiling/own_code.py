"""Which functions are the profiler's own, and which are Python's import machinery: the two
kinds of frames a profile leaves out or folds (telemetry.profiling.table_filters for call
graphs, telemetry.profiling.stacks for sampled stacks).

The profiler's own code is every module of telemetry.profiling. Its work (starting and
stopping captures, harvesting, reporting, sampling) is never part of a profile. One kind of
its frames is different: a *pass-through* frame, the profiling middleware's __call__, which
runs the whole request under it. Dropping what is under it would drop the request, so it is
spliced out instead (its callees are shown under its caller).

Import machinery is importlib's bootstrap (frozen in CPython: "<frozen importlib._bootstrap>"),
the frames that clutter the first captures of a process (`_find_and_load` ...) while modules
load lazily. Runs and the continuous views group them (one frame per import) or exclude
them (the import and what it ran), as the operator chooses.
"""

from __future__ import annotations

import os
from collections.abc import Callable

_PROFILING_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_IMPORT_FILES = frozenset(
    {
        "<frozen importlib._bootstrap>",
        "<frozen importlib._bootstrap_external>",
        "<frozen zipimport>",
    }
)
_IMPORT_SUFFIXES = (
    os.path.join("importlib", "_bootstrap.py"),
    os.path.join("importlib", "_bootstrap_external.py"),
    os.path.join("importlib", "__init__.py"),
)
# The frame of the import machinery that stays, renamed, when imports are grouped.
IMPORT_ENTRY_NAME = "_find_and_load"
IMPORT_GROUP_LABEL = "import (importlib)"
# The one frame a run of import machinery frames becomes in a sampled stack.
IMPORT_GROUP_KEY = ("<frozen importlib._bootstrap>", 0, IMPORT_GROUP_LABEL)


def is_profiler_file(path: str) -> bool:
    """True for a module of telemetry.profiling (the profiler's own code)."""
    return bool(path) and os.path.abspath(path).startswith(_PROFILING_DIR)


def is_import_file(path: str) -> bool:
    """True for importlib's bootstrap, frozen or not."""
    return path in _IMPORT_FILES or path.endswith(_IMPORT_SUFFIXES)


def is_import_function(path: str, name: str) -> bool:
    """Import machinery: importlib's bootstrap, and the `__import__` builtin (yappi names a
    builtin's module "builtins")."""
    return is_import_file(path) or (path == "builtins" and name == "__import__")


# The profiler's frames that run the profiled work under them: (module file, qualified name).
# A name, not a line: yappi names methods "Class.method" as the code's co_qualname does.
_PASS_THROUGH = frozenset({(_PROFILING_DIR + "middleware.py", "ProfilingMiddleware.__call__")})


def classify(path: str, name: str) -> str:
    """ "own", "pass" (a profiler frame that runs the work under it), "import" or ""."""
    if is_profiler_file(path):
        return "pass" if (os.path.abspath(path), name) in _PASS_THROUGH else "own"
    if is_import_function(path, name):
        return "import"
    return ""


Classifier = Callable[[str, str], str]
