"""Imports run one way: core at the bottom; the server, the camera side and the web UI above it; the
entry points on top (README, "How it fits together").

Every module under app/skyfleet is parsed with `ast`, not imported (so a camera-side module needs no
OpenCV here, and a cycle cannot hide behind import order).  Every import counts, also inside a
function or a try block; relative imports are resolved.  Imports under `if TYPE_CHECKING:` never run:
they count for the layering rules but not for cycles.
"""
from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
PACKAGE = "skyfleet"

# The core: `skyfleet.core`, `skyfleet.housekeeping` (retention, used by both tiers) and the top-level
# modules that are already tier-free and shared by every host (the models, settings loading, database
# set-up, API keys, time labels).
CORE_PACKAGES = (f"{PACKAGE}.core", f"{PACKAGE}.housekeeping")
CORE_MODULES = {f"{PACKAGE}.{name}" for name in ("models", "settings", "db_setup", "apikeys", "timefmt")}
CAMERA_SIDE = tuple(f"{PACKAGE}.{name}" for name in ("capture", "imaging", "station", "upload", "local_assets"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict:
    return {module_name(p): p for p in sorted((APP / PACKAGE).rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, type_checking: bool = False):
    """(node, only for type checkers) for every import statement, at any depth."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, type_checking
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), type_checking)
        else:
            yield from _imports(node, type_checking)


def imported_modules(name: str, path: Path):
    """(imported module, only for type checkers) for every import in module `name`, resolved."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    for node, type_checking in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, type_checking
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            anchor = ".".join(parts[:len(parts) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            # `from pkg import name`: the submodule pkg.name when there is one, else pkg itself.
            sub = f"{base}.{alias.name}"
            yield (sub if sub in MODULES else base), type_checking


def import_table() -> list:
    """(importer, imported, only for type checkers) for every import of every skyfleet module."""
    return [(name, target, tc) for name, path in MODULES.items() for target, tc in imported_modules(name, path)]


TABLE = import_table()


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def is_core(module: str) -> bool:
    return module == PACKAGE or _within(module, CORE_PACKAGES) or module in CORE_MODULES


def is_flask(module: str) -> bool:
    top = module.split(".")[0]
    return top == "flask" or top.startswith("flask_")


def forbidden(importer: str, imported: str) -> str | None:
    """Why `importer` must not import `imported`, or None."""
    if is_core(importer):
        if is_flask(imported):
            return "the core imports no Flask"
        if _within(imported, (PACKAGE,)) and not is_core(imported):
            return "the core imports no tier (only other core modules)"
    if _within(importer, CAMERA_SIDE):
        if is_flask(imported):
            return "the camera side imports no Flask"
        if _within(imported, (f"{PACKAGE}.syncapi", f"{PACKAGE}.web")):
            return "the camera side imports neither the server nor the web UI"
    return None


def violations() -> dict:
    """(importer, imported) -> why it is forbidden."""
    found = {}
    for importer, imported, _ in TABLE:
        reason = forbidden(importer, imported)
        if reason:
            found[(importer, imported)] = reason
    return found


def import_graph() -> dict:
    """Runtime edges between skyfleet modules.  Importing a.b.c also runs the packages a.b and a
    (unless the importer is inside them already), so those are edges too."""
    graph: dict = {name: set() for name in MODULES}
    for importer, imported, type_checking in TABLE:
        if not type_checking:
            graph[importer].update(edge_targets(importer, imported))
    return graph


def edge_targets(importer: str, imported: str) -> set:
    """The skyfleet modules that `import imported` runs from `importer`: it and its packages."""
    targets = set()
    target = imported if _within(imported, (PACKAGE,)) else ""
    while target and target in MODULES:
        if not _within(importer, (target,)):
            targets.add(target)
        target = target.rpartition(".")[0]
    return targets


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    found = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_every_module_is_parsed():
    assert f"{PACKAGE}.core" in MODULES and f"{PACKAGE}.core.storage" in MODULES
    assert any(_within(imported, (f"{PACKAGE}.core",)) for _, imported, _ in TABLE)


def test_no_import_cycle():
    found = cycles(import_graph())
    assert found == [], f"import cycles among skyfleet modules: {found}"


def test_no_forbidden_import():
    found = violations()
    assert found == {}, "forbidden imports:\n" + "\n".join(f"  {a} -> {b}: {why}" for (a, b), why in found.items())


def test_nothing_outside_the_server_and_the_factory_imports_syncapi():
    found = sorted({(a, b) for a, b, _ in TABLE if _within(b, (f"{PACKAGE}.syncapi",))
                    and not _within(a, (f"{PACKAGE}.syncapi",)) and a != f"{PACKAGE}.factory"})
    assert found == []
