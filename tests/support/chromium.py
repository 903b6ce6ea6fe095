"""Headless Chromium (Debian's `chromium` package) for the tests and the docs' screenshot of the report."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = "Debian's chromium package is not installed (apt-get install chromium)"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def required() -> bool:
    """True in CI (CI=true, as CI services set it): there a missing Chromium fails the browser tests instead of
    skipping them, so CI can never pass without having drawn the report (.ci/run installs the package)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _run(page: Path, *options: str) -> str:
    binary = chromium()
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",  # the tests may run as root, which Chromium's sandbox refuses
                "--disable-gpu",
                "--disable-dev-shm-usage",  # containers (CI) often give /dev/shm 64 MB, where Chromium can crash
                "--no-first-run",
                f"--user-data-dir={profile}",
                *options,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path) -> str:
    """The DOM once the page's scripts have run, as HTML."""
    return _run(page, "--dump-dom")


def screenshot(page: Path, png: Path, width: int, height: int) -> None:
    _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}", "--hide-scrollbars")
