"""Imports point down the layer table of the design, at module and function level alike, and no
two modules import each other through any chain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "dw_notebook"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of everything ``path`` imports, anywhere in the file (a function-level
    import is a dependency too)."""
    return {name for group in imported_groups(path) for name in group}


def imported_groups(path: Path) -> list[list[str]]:
    """Per imported name, the candidates it may be, most specific last: ``from a import b``
    gives ``[a, a.b]`` (``a.b`` is a module or a name in ``a``)."""
    tree = ast.parse(path.read_text())
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    groups = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            groups += [[alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            groups += [[module, f"{module}.{alias.name}"] for alias in node.names]
    return groups


def files(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in PACKAGE.glob(pattern))


UI = ["ipywidgets", "anywidget", "dw_notebook.widgets", "dw_notebook.ui"]
JOB = ["dw_notebook.job", "dw_notebook.local"]
RULES = [
    # (files, forbidden import prefixes), from the bottom of the table up
    (files("server/**/*.py"), ["dw_notebook.client", "dw_notebook.jsonl", "dw_notebook.progress",
                               "pandas", *JOB, *UI]),
    (files("jsonl/**/*.py", "prices.py"), ["httpx", "dw_notebook.client", "dw_notebook.server",
                                           "dw_notebook.progress", *JOB, *UI]),
    (files("markup.py"), ["dw_notebook.", "pandas", "httpx", "ipywidgets", "anywidget"]),
    (files("client.py", "errors.py", "config.py", "wire.py"), ["pandas", "dw_notebook.jsonl",
                                                               "dw_notebook.server",
                                                               "dw_notebook.progress", *JOB, *UI]),
    (files("progress/*.py"), ["pandas", "httpx", "dw_notebook.client", "dw_notebook.server",
                              "dw_notebook.jsonl", *JOB, *UI]),
    (files("local.py"), ["dw_notebook.job", "dw_notebook.jsonl", *UI]),
    (files("job/*.py"), ["dw_notebook.server", "dw_notebook.autobatch", *UI]),
    (files("autobatch/*.py"), ["dw_notebook.server", "pandas", *UI]),
    (files("widgets/*.py"), ["httpx", "dw_notebook.client", "dw_notebook.server", *JOB,
                             "dw_notebook.ui"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [(p, forbidden) for group, forbidden in RULES for p in group],
    ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else "",
)
def test_module_imports_only_from_layers_below(path, forbidden):
    imported = imports(path)
    bad = sorted(n for n in imported for f in forbidden if n == f or n.startswith(f + "."))
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_every_layer_has_files():
    assert all(group for group, _ in RULES)


def _graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``from pkg import mod`` names the module)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        targets = set()
        for group in imported_groups(path):
            imported = next((n for n in reversed(group) if n in paths), group[0])
            while imported and imported not in paths:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported != "dw_notebook":
                targets.add(imported)
        graph[name] = targets
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_function_level_imports_count():
    src = PACKAGE / "jsonl" / "_probe.py"  # placed in the package, for its relative name
    src.write_text("def f():\n    from ..ui import review\n")
    try:
        found = imports(src)
    finally:
        src.unlink()
    assert "dw_notebook.ui" in found


def test_the_readme_layout_table_names_paths_that_exist():
    readme = (PACKAGE.parent / "README.md").read_text()
    table = readme[readme.index("## Layout") :].split("\n\n")[1]
    for row in table.splitlines()[2:]:
        cell = row.split("|")[1]
        paths = [p.strip("`") for p in cell.replace(",", " ").split() if p.startswith("`")]
        base = PACKAGE.parent / paths[0]
        for path in paths:
            full = PACKAGE.parent / path if "/" in path else base.parent / path
            if not full.exists() and "*" not in path:
                pytest.fail(f"the README's layout table names {path}, which does not exist")
