"""A test folder imports only its own helper modules and the shared ``helpers`` package.

A bare ``import judge_helpers`` from tests/report works only when some other test module has
already put tests/judge on ``sys.path`` — it breaks when tests/report runs alone or under
pytest-xdist.  Helpers used by more than one folder live in tests/helpers (imported as
``helpers.<module>``; tests/conftest.py puts tests/ on ``sys.path``).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SKIP = {"helpers", "errors", "__pycache__"}


def _helper_modules() -> dict[str, set[str]]:
    """``{module name: folders defining it}`` for the helper modules of the test folders."""
    found: dict[str, set[str]] = {}
    for path in TESTS.glob("*/*.py"):
        folder = path.parent.name
        if folder in SKIP or path.stem.startswith("test_") or path.stem in ("conftest",
                                                                            "__init__"):
            continue
        found.setdefault(path.stem, set()).add(folder)
    return found


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_folder_imports_another_folders_helper():
    helpers = _helper_modules()
    crossing = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS)
        if rel.parts[0] in SKIP or len(rel.parts) < 2:
            continue
        for name in _imported(path) & set(helpers):
            if rel.parts[0] not in helpers[name]:
                crossing.append(f"{rel}: imports {name} of tests/{sorted(helpers[name])[0]}")
    assert not crossing, "move these helpers to tests/helpers:\n" + "\n".join(crossing)


def test_shared_helpers_import_by_package_path():
    for path in sorted((TESTS / "helpers").glob("[!_]*.py")):
        spec = importlib.util.find_spec(f"helpers.{path.stem}")  # found, not run
        assert spec is not None and Path(spec.origin).resolve() == path
