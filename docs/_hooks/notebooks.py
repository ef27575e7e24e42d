"""Put every ``notebooks/*.ipynb`` in the site (rendered by mkdocs-jupyter, not executed).

The notebooks live outside ``docs/`` (the tests run them from there), so they are added to the
site's files as ``notebooks/<name>.ipynb`` and to the end of the nav as a "Notebooks" section:
a new notebook needs no edit here or in ``mkdocs.yml``.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SECTION = "Notebooks"
FIRST = "quickstart.ipynb"


def _notebooks() -> list[Path]:
    """The quickstart first, then the others by file name."""
    return sorted(NOTEBOOKS.glob("*.ipynb"), key=lambda p: (p.name != FIRST, p.name))


def on_config(config):
    entries = [f"notebooks/{path.name}" for path in _notebooks()]
    if entries and config.nav is not None:
        config.nav.append({SECTION: entries})
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files, config):
    for path in _notebooks():
        # src_dir is the repository root, so the file's path in the site is notebooks/<name>
        # (File.generated would not do: mkdocs-jupyter reads the path from src_dir)
        files.append(
            File(
                f"notebooks/{path.name}",
                src_dir=str(NOTEBOOKS.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files
