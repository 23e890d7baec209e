"""Count the units of src/livecam, the arrows between them and the import cycles.

A unit is a sub-package or a top-level module. Every import counts, also those inside
functions; only those under ``if TYPE_CHECKING:`` are left out.

    python scripts/import_graph.py            # units, arrows, cycles (strongly connected sets)
    python scripts/import_graph.py --arrows   # and every arrow with the lines behind it
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = "livecam"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE


def unit_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """(module, line) of every import in the file outside ``TYPE_CHECKING`` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.append((prefix, node.lineno))
            found.extend((f"{prefix}.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> tuple[set[str], dict[tuple[str, str], list[str]]]:
    units: set[str] = set()
    arrows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(ROOT.rglob("*.py")):
        source = unit_of(module_name(path))
        if source is None:
            continue
        units.add(source)
        for module, line in imported_modules(path):
            target = unit_of(module)
            if target is None or target == source:
                continue
            if not (ROOT / target).is_dir() and not (ROOT / f"{target}.py").exists():
                continue  # "from livecam import name" of a name, not a unit
            where = f"{path.relative_to(ROOT)}:{line}"
            if where not in arrows[(source, target)]:
                arrows[(source, target)].append(where)
    return units, arrows


def cycles(units: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected sets of more than one unit (Tarjan)."""
    successors: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        successors[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in successors[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for unit in sorted(units):
        if unit not in index:
            connect(unit)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrows", action="store_true", help="list every arrow")
    args = parser.parse_args()
    units, arrows = graph()
    found = cycles(units, set(arrows))
    print(f"units: {len(units)}, arrows: {len(arrows)}, cycles: {len(found)}")
    for component in found:
        print(f"  cycle through {len(component)}: {', '.join(component)}")
    if args.arrows:
        for (a, b), places in sorted(arrows.items()):
            print(f"{a} -> {b}: {', '.join(places)}")


if __name__ == "__main__":
    main()
