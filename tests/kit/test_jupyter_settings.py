"""JupyterLab opens without the "official Jupyter news" prompt.

The kit ships ``jupyter/lab/settings/overrides.json``; the project's
install (uv, pip -e ., Binder's postBuild) puts it into the environment's
``share/jupyter/lab/settings/``, where JupyterLab reads the defaults of an
installation. The check goes through jupyterlab_server's own settings
code, the one the running server answers ``/lab/api/settings`` with.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from jupyterlab.commands import get_app_dir
from jupyterlab_server.settings_utils import get_settings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "jupyter" / "lab" / "settings" / "overrides.json"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def notification_setting(app_settings_dir: Path, tmp_path: Path) -> dict:
    app_dir = Path(get_app_dir())
    found, _ = get_settings(
        str(app_settings_dir),
        str(app_dir / "schemas"),
        str(tmp_path / "user-settings"),  # an empty user: no home involved
        schema_name=NOTIFICATION,
    )
    return found["schema"]["properties"]


def test_the_installed_defaults_turn_the_news_off(tmp_path: Path) -> None:
    installed = Path(get_app_dir()) / "settings"
    properties = notification_setting(installed, tmp_path)
    assert properties["fetchNews"]["default"] == "false"
    assert properties["checkForUpdates"]["default"] is False
    # the installed file is the shipped one (a stale install would differ)
    assert json.loads((installed / "overrides.json").read_text()) == (
        json.loads(SHIPPED.read_text())
    )


def test_without_the_file_jupyterlab_would_ask(tmp_path: Path) -> None:
    properties = notification_setting(tmp_path / "no-settings", tmp_path)
    assert properties["fetchNews"]["default"] == "none"  # "Ask"


def test_every_install_route_ships_the_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    destination = wheel["shared-data"][str(SHIPPED.relative_to(ROOT))]
    assert destination == "share/jupyter/lab/settings/overrides.json"
    postbuild = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in postbuild and "-e ." in postbuild
