"""Installable as a package: the wheel, installed outside the checkout, initialises and serves.

The slow test builds the wheel from a copy of the checkout (pip builds in place, so the copy
keeps build/ and *.egg-info out of the worktree), installs it with --no-deps into a fresh
virtualenv under tmp_path and makes the running environment's site-packages visible through a
plain .pth line (the dependencies, without the editable install's finder, whose .pth is not
processed). Every child runs with cwd=tmp_path and no PYTHONPATH, so nothing comes from the
checkout.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

from engine import Database
from engine.authoring.versions import published_version
from mahnwerk.demo import example_files

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SHIPPED = ("static", "templates", "journeys_examples")
# What the copy for the build leaves out: caches, local state and what the wheel never carries.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "build", "dist", "*.egg-info", "instance", ".*_cache",
    "*.sqlite3", "*.db", "tests", "bench",
)  # fmt: skip


def test_every_package_of_the_checkout_is_listed_for_the_wheel() -> None:
    """pyproject.toml lists its packages (a mapped folder cannot be found): none may be missing."""
    tops = sorted(
        p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in ("tests", "bench")
    )
    found = [  # folders of data only (the engine's locale/) ship as package data, not packages
        name
        for name in find_namespace_packages(str(ROOT), include=[f"{top}*" for top in tops])
        if any((ROOT / name.replace(".", "/")).glob("*.py"))
    ]
    listed = PYPROJECT["tool"]["setuptools"]["packages"]
    mapped = [f"mahnwerk_files.{name}" for name in SHIPPED]
    assert sorted(listed) == sorted([*found, *mapped])
    package_dir = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert package_dir == {f"mahnwerk_files.{name}": name for name in SHIPPED}


def _run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, token: str = "") -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def _wait_until_up(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            _get(port, "/login")
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("mahnwerk serve did not answer: " + log.read_text())


@pytest.mark.slow
def test_the_installed_wheel_initialises_and_serves_outside_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    # Build isolation fetches the build-system requirements from the configured index.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", "dist", source], tmp_path, env)
    (wheel,) = (tmp_path / "dist").glob("mahnwerk-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python, mahnwerk = venv / "bin" / "python", venv / "bin" / "mahnwerk"
    pip = [sys.executable, "-m", "pip", "--python", python]
    _run([*pip, "install", "--no-deps", "--no-index", wheel], tmp_path, env)
    # Only now the dependencies: pip above saw an empty venv, not the editable mahnwerk.
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   tmp_path, env).strip()  # fmt: skip
    running = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(purelib) / "_running_environment.pth").write_text("\n".join(running) + "\n")

    where = _run(
        [python, "-c", "import designer, api, mahnwerk_files; "
         "print(designer.__file__, api.__file__, mahnwerk_files.STATIC, sep='\\n')"],
        tmp_path, env,
    ).split()  # fmt: skip
    for path in where:
        assert Path(path).is_relative_to(venv), where
        assert not Path(path).is_relative_to(ROOT), where

    url = f"sqlite:///{tmp_path / 'wheel.sqlite3'}"
    env |= {"DATABASE_URL": url, "MAHNWERK_INSTANCE": str(tmp_path / "instance")}
    said = _run([mahnwerk, "init", "--demo"], tmp_path, env)
    keys = [path.stem for path in example_files()]
    assert len(keys) >= 4
    db = Database(url)
    try:
        with db.transaction() as session:
            published = {key for key in keys if published_version(session, key) is not None}
    finally:
        db.dispose()
    assert published == set(keys), said
    for key in keys:
        assert f"Published example journey '{key}'." in said

    token = _run([mahnwerk, "token", "add", "docs", "--scope", "read"], tmp_path, env)
    token = token.strip().rpartition(": ")[2]

    port, log = _free_port(), tmp_path / "serve.log"
    command = [mahnwerk, "serve", "--port", port, "--workers", 1, "--no-scheduler"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(part) for part in command], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        _wait_until_up(process, port, log)
        status, kind, body = _get(port, "/login")
        assert (status, kind.split(";")[0]) == (200, "text/html"), body
        assert b'name="password"' in body and b"/static/css/app.css" in body  # templates/auth
        status, kind, body = _get(port, "/static/css/app.css")
        assert (status, kind.split(";")[0]) == (200, "text/css")
        assert body == (ROOT / "static" / "css" / "app.css").read_bytes()
        status, _, body = _get(port, "/api/v1/openapi.json", token)
        assert status == 200 and b'"/api/v1/cases"' in body
        status, _, body = _get(port, "/api/v1/docs", token)
        assert status == 200 and b"swagger-ui" in body
        status, _, _ = _get(port, "/static/vendor/swagger-ui-dist-5.35.0/swagger-ui.css")
        assert status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
