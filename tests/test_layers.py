"""The layers of docs/architecture.md: a module imports only its own layer and the ones below,
on every import statement of ``src/prefkit`` (function-level, lazy imports included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "prefkit"
ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def layer_order() -> list[str]:
    """The ``core < data < …`` line of docs/architecture.md, so the doc and the test agree."""
    line = next(ln for ln in ARCHITECTURE.read_text().splitlines() if ln.startswith("core < "))
    return [name.strip() for name in line.split("<")]


def imported_layers(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            match = re.match(r"prefkit\.(\w+)", name)
            if match:
                found.add((match.group(1), node.lineno))
    return found


def test_every_layer_package_is_in_the_documented_order() -> None:
    order = layer_order()
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(order), f"undocumented layers: {sorted(packages - set(order))}"


def test_no_module_imports_a_higher_layer() -> None:
    order = layer_order()
    rank = {name: k for k, name in enumerate(order)}
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        layer = path.relative_to(SRC).parts[0]
        if layer not in rank:
            continue  # prefkit/__init__.py, errors.py, __main__.py sit outside the layers
        for target, line in imported_layers(path):
            if target in rank and rank[target] > rank[layer]:
                violations.append(f"{path.relative_to(SRC)}:{line} imports prefkit.{target}")
    assert not violations, "\n".join(sorted(violations))
