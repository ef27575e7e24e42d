"""What a user installs works: the wheel and the sdist built from this checkout, each installed
into a fresh virtualenv with no Node.js on PATH, run the README's first example, the CLI's help
and the quickstart notebook, without the dev extras (no openai SDK)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BUNDLES = ("progress", "builder", "jobs", "review", "autobatch")
NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "pnpm"}

# Runs after the README's first example: it must have joined an answer onto every row.
README_CHECK = """
assert list(out.index) == list(df.index), out
assert (out["status"] == "ok").all(), out["status"].tolist()
assert out["content"].notna().all() and (out["content"].str.len() > 0).all(), out
print("JOINED", len(out), sorted(out.columns))
"""

QUICKSTART = """
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "assert (out['status'] == 'ok').all() and len(out) == 300\\nprint('QUICKSTART', len(out))"))
NotebookClient(nb, timeout=240, kernel_name="python3").execute()
print("".join(o.get("text", "") for o in nb.cells[-1].outputs))
"""

AUTOBATCH_HINT = """
import dw_notebook as dw
try:
    dw.autobatch()
except ImportError as exc:
    print("HINT", exc)
"""


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel, built from this checkout as a release would be."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], dict(os.environ), ROOT)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def _path_without_node(tmp: Path) -> str:
    """A PATH with every command of this one except Node.js and its package managers (and
    nothing of the dev virtualenv or this checkout)."""
    shadow = tmp / "bin-without-node"
    shadow.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder)
        if not path.is_dir() or path.resolve().is_relative_to(ROOT.resolve()):
            continue
        for entry in path.iterdir():
            if entry.name not in NODE_TOOLS and not (shadow / entry.name).exists():
                (shadow / entry.name).symlink_to(entry)
    return str(shadow)


def test_the_wheel_ships_bundles_and_license_and_no_tests(dists):
    names = zipfile.ZipFile(dists["wheel"]).namelist()
    for bundle in BUNDLES:
        assert f"dw_notebook/static/{bundle}.js" in names, bundle
    assert any(re.search(r"\.dist-info/licenses/LICENSE$", n) for n in names), names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "js/", "notebooks/"))]
    metadata = (
        zipfile.ZipFile(dists["wheel"])
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, flags=re.M)
    # the openai SDK only with the autobatch extra (and dev): importing the package never needs it
    assert [r for r in requires if r.startswith("openai")] and all(
        "extra ==" in r for r in requires if r.startswith("openai")
    ), requires
    assert "Provides-Extra: autobatch" in metadata


def test_the_sdist_ships_the_built_bundles_and_license(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for bundle in BUNDLES:
        assert f"dw_notebook/static/{bundle}.js" in names, bundle
    assert {"LICENSE", "pyproject.toml", "README.md", "js/progress.js"} <= names


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installed_without_node_the_package_runs_the_readme_cli_and_quickstart(
    kind, dists, tmp_path
):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    path = f"{venv / 'bin'}{os.pathsep}{_path_without_node(tmp_path)}"
    assert shutil.which("npm", path=path) is None and shutil.which("node", path=path) is None
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DOUBLEWORD_API_KEY", "DOUBLEWORD_BASE_URL")
    }
    env.update(
        PATH=path, DW_NOTEBOOK_HOME=str(tmp_path / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1"
    )
    work = tmp_path / "work"  # not the checkout: the installed package must be the one imported
    work.mkdir()

    _run([python, "-m", "pip", "install", "--quiet", str(dists[kind])], env, work)
    where = _run([python, "-c", "import dw_notebook; print(dw_notebook.__file__)"], env, work)
    assert str(venv) in where and str(ROOT) not in where, where

    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, flags=re.S).group(1)
    (work / "example.py").write_text(example + README_CHECK)
    assert "JOINED 3" in _run([python, "example.py"], env, work, timeout=300)

    hint = _run([python, "-c", AUTOBATCH_HINT], env, work)
    assert "pip install 'dw-notebook[autobatch]'" in hint, hint

    top = _run([str(venv / "bin" / "dw-notebook"), "--help"], env, work)
    serve = _run([str(venv / "bin" / "dw-notebook"), "serve", "--help"], env, work)
    for text in (top, serve):
        assert "``" not in text and ":class:" not in text, text
    assert all(cmd in top for cmd in ("demo", "serve", "jobs")), top
    options = re.findall(r"^\s+(--[a-z-]+)", serve, flags=re.M)
    assert len(options) >= 10, serve
    for option in options:  # every option has help text beside or below it
        block = serve.split(option, 1)[1].split("\n  --", 1)[0]
        assert re.search(r"[a-z]{3,} [a-z]{2,}", block), f"{option} has no help text:\n{serve}"

    _run(
        [python, "-m", "pip", "install", "--quiet", "nbclient", "nbformat", "ipykernel"], env, work
    )
    (work / "run_quickstart.py").write_text(QUICKSTART)
    notebook = str(ROOT / "notebooks" / "quickstart.ipynb")
    assert "QUICKSTART 300" in _run([python, "run_quickstart.py", notebook], env, work)
