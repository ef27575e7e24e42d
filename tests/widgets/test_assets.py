"""Widget bundles: built ones are used as files; a missing one never breaks import."""

from __future__ import annotations

import anywidget

from dw_notebook.widgets import _assets


def test_a_missing_bundle_becomes_a_module_that_explains_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setattr(_assets, "STATIC", tmp_path)
    source = _assets.esm("progress")
    assert isinstance(source, str) and "npm run build" in source
    assert _assets.css("progress") == ""

    class Unbuilt(anywidget.AnyWidget):  # defining the class must not raise
        _esm = source
        _css = _assets.css("progress")

    widget = Unbuilt()
    assert "export default" in widget._esm and "npm run build" in widget._esm


def test_built_bundles_are_self_contained_modules():
    path = _assets.esm("progress")
    assert not isinstance(path, str), "run `npm run build` first"
    code = path.read_text()
    assert "export" in code
    # a blob: URL cannot resolve relative or remote imports
    assert 'from"./' not in code.replace(" ", "") and "import(" not in code
    assert "https://" not in code
