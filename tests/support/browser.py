"""Headless Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by the
playwright package (never `playwright install`). The fixtures `browser` (one per module) and
`page` (one per test, remembering page errors and requests that leave the daemon) are
registered for every test by conftest.py (pytest_plugins)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.problems = []  # page errors and requests that leave the daemon
    pg.on("pageerror", lambda exc: pg.problems.append(f"page error: {exc}"))
    try:
        yield pg
    finally:
        context.close()


def only_loopback(page: Any, base: str) -> None:
    """Refuse (and remember) any request that does not go to the daemon: no CDN, no network."""
    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:
            page.problems.append(f"request off the daemon: {r.request.url}")
            r.abort()
    page.route("**/*", route)


def shot(page: Any, tmp_path: Path, name: str) -> Path:
    out = tmp_path / "screenshots" / name
    page.screenshot(path=str(out), full_page=True)
    extra = os.environ.get("SOULFRA_SCREENSHOTS")
    if extra:
        target = Path(extra) if Path(extra).is_absolute() else ROOT / extra
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, target / name)
    print(f"screenshot: {out}")
    return out


