"""Imports point down the layer table of the design: each layer imports only what it may."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "dw_notebook"


def module_level_imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports at module level."""
    tree = ast.parse(path.read_text())
    package = "dw_notebook." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rstrip(".").split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def files(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in PACKAGE.glob(pattern))


RULES = [
    # (files, forbidden import prefixes)
    (files("server/*.py"), ["dw_notebook.client", "dw_notebook.job", "dw_notebook.build",
                            "dw_notebook.widgets", "dw_notebook.results", "dw_notebook.submit",
                            "pandas", "ipywidgets", "anywidget"]),
    (files("build/*.py", "results.py", "prices.py"), ["httpx", "ipywidgets", "anywidget",
                                                      "dw_notebook.client", "dw_notebook.server",
                                                      "dw_notebook.job", "dw_notebook.widgets"]),
    (files("widgets/*.py"), ["httpx", "dw_notebook.client", "dw_notebook.server",
                             "dw_notebook.job", "dw_notebook.submit"]),
    (files("client.py", "errors.py", "config.py"), ["pandas", "ipywidgets", "anywidget",
                                                    "dw_notebook.server", "dw_notebook.job"]),
    (files("job.py", "poller.py", "registry.py", "submit.py"), ["ipywidgets", "anywidget",
                                                                "dw_notebook.server",
                                                                "dw_notebook.widgets"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [(p, forbidden) for group, forbidden in RULES for p in group],
    ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else "",
)
def test_module_imports_only_from_layers_below(path, forbidden):
    imported = module_level_imports(path)
    bad = sorted(n for n in imported for f in forbidden if n == f or n.startswith(f + "."))
    assert not bad, f"{path.name} imports {bad}"


def test_every_layer_has_files():
    assert all(group for group, _ in RULES)
