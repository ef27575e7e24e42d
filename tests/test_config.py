"""Where requests go: explicit key, then DOUBLEWORD_API_KEY, then ~/.dw, else the local server."""

from __future__ import annotations

from dw_notebook.config import key_from_dw_files, remote_connection
from dw_notebook.wire import DOUBLEWORD_BASE_URL


def _dw_files(home, account="work", key="sk-file"):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'active_account = "{account}"\n')
    (home / "credentials.toml").write_text(
        f'[accounts.{account}]\ninference_key = "{key}"\n[accounts.other]\ninference_key = "x"\n'
    )


def test_no_settings_means_no_remote_connection():
    assert remote_connection() is None


def test_env_key_goes_to_doubleword(monkeypatch):
    monkeypatch.setenv("DOUBLEWORD_API_KEY", "sk-env")
    conn = remote_connection()
    assert conn.base_url == DOUBLEWORD_BASE_URL and conn.api_key == "sk-env"
    assert not conn.simulated and conn.service_key == DOUBLEWORD_BASE_URL


def test_the_active_account_of_the_dw_files_is_used(tmp_path, monkeypatch):
    _dw_files(tmp_path / "dw")
    monkeypatch.setenv("DW_CONFIG_DIR", str(tmp_path / "dw"))
    assert key_from_dw_files() == "sk-file"
    assert remote_connection().api_key == "sk-file"


def test_env_beats_files_and_explicit_beats_env(tmp_path, monkeypatch):
    _dw_files(tmp_path / "dw")
    monkeypatch.setenv("DW_CONFIG_DIR", str(tmp_path / "dw"))
    monkeypatch.setenv("DOUBLEWORD_API_KEY", "sk-env")
    assert remote_connection().api_key == "sk-env"
    explicit = remote_connection("sk-arg", "http://127.0.0.1:9/v1")
    assert explicit.api_key == "sk-arg" and explicit.base_url == "http://127.0.0.1:9/v1"


def test_broken_dw_files_are_ignored(tmp_path, monkeypatch):
    (tmp_path / "dw").mkdir()
    (tmp_path / "dw" / "config.toml").write_text("not = [toml")
    monkeypatch.setenv("DW_CONFIG_DIR", str(tmp_path / "dw"))
    assert key_from_dw_files() is None


def test_the_key_is_not_in_the_connection_repr(monkeypatch):
    monkeypatch.setenv("DOUBLEWORD_API_KEY", "sk-secret-123")
    assert "sk-secret-123" not in repr(remote_connection())
