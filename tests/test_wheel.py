"""The wheel works on its own: built, installed (not editable) into a fresh virtual
environment outside the checkout, and run from an empty folder.

What this guards: templates and migrations ship inside the package, settings and relative
paths are read from the current folder (never from site-packages), and no module of the
package is left out of the wheel.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from localhost import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the built wheel; its libraries come from this environment.

    The dependencies are made visible through a ``.pth`` line (no download, no editable
    install: ``.pth`` files inside that folder are not processed, so this checkout's
    editable ``publisher`` stays out of reach).
    """
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, cwd=base,
    )  # fmt: skip
    wheel = next(dist.glob("publisher-*.whl"))
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    inside = next(env_dir.glob("lib/python*/site-packages"))
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (inside / "dependencies.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
         "--no-deps", "-q", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    return env_dir


def run(env_dir: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    environ.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(env_dir / "bin" / "publisher"), *args],
        cwd=folder, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_every_package_of_the_source_is_in_the_wheel(installed: Path) -> None:
    inside = next(installed.glob("lib/python*/site-packages")) / "publisher"
    source = {p.parent.relative_to(ROOT / "publisher") for p in (ROOT / "publisher").rglob("*.py")}
    shipped = {p.parent.relative_to(inside) for p in inside.rglob("*.py")}
    assert source <= shipped, f"missing from the wheel: {sorted(map(str, source - shipped))}"
    assert (inside / "templates" / "email" / "digest.html.j2").is_file()
    assert (inside / "templates" / "web" / "base.html").is_file()
    for language in ("en", "ur", "ar", "fr"):  # the compiled catalogs, for pages in each
        assert (inside / "locale" / language / "LC_MESSAGES" / "messages.mo").is_file()


@pytest.fixture
def site_folder(installed: Path, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "newsroom"
    folder.mkdir()
    yield folder


def test_installed_publisher_runs_from_an_empty_folder(installed: Path, site_folder: Path) -> None:
    which = run(installed, site_folder, "--version")
    assert which.returncode == 0, which.stderr
    init = run(installed, site_folder, "init")
    assert init.returncode == 0, init.stderr
    assert (site_folder / ".env").is_file() and (site_folder / "var").is_dir()
    article = ROOT / "examples" / "demo" / "todays-briefing.md"  # dated "now"
    added = run(installed, site_folder, "articles", "add", str(article))
    assert added.returncode == 0, added.stderr
    assert "1 created" in added.stdout
    out = site_folder / "preview"
    preview = run(installed, site_folder, "digest", "preview", "--out", str(out))
    assert preview.returncode == 0, preview.stderr
    assert "<html" in (out / "digest.html").read_text(encoding="utf-8")

    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    environ.pop("PYTHONPATH", None)
    environ.update(PUBLISHER_WEB__PORT=str(port), PUBLISHER_SITE__URL=f"http://127.0.0.1:{port}")
    log = (site_folder / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(installed / "bin" / "publisher"), "serve", "--no-scheduler"],
        cwd=site_folder, env=environ, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        slug = httpx.get(f"{base}/feeds/rss.xml").text.split("/articles/")[1].split("<")[0]
        for path in ("/", f"/articles/{slug}", "/archive", "/feeds/rss.xml"):
            assert httpx.get(base + path, timeout=10).status_code == 200, path
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
