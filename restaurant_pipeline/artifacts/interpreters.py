"""The CPython interpreters on this machine, found and probed: what compiles an artifact's bytecode for its platform
(build.py) and what runs the host artifacts in the Lambda sandbox (host.py). Imports neither of them."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path


@cache
def installed_pythons(version: str) -> tuple[str, ...]:
    """Working CPython `version` interpreters with pip on this machine: on PATH, then pyenv's and uv's (a pyenv
    shim on PATH runs only the version pyenv selects, so its versions folder is searched too)."""
    candidates = [path for path in [shutil.which(f"python{version}")] if path]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    uv_root = Path(os.environ.get("UV_PYTHON_INSTALL_DIR", Path.home() / ".local" / "share" / "uv" / "python"))
    candidates.extend(str(path) for path in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}")))
    candidates.extend(str(path) for path in sorted(uv_root.glob(f"cpython-{version}.*/bin/python{version}")))
    found: list[str] = []
    for candidate in candidates:
        probed = probe(candidate)
        if probed and probed[1] == version and probed[0] not in found:
            found.append(probed[0])
    return tuple(found)


def probe(executable: str) -> tuple[str, str] | None:
    """(the interpreter's real path, 'X.Y') when it runs and has pip, else None."""
    answer = subprocess.run(
        [executable, "-c", "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0 or len(answer.stdout.split()) != 2:
        return None
    pip = subprocess.run([executable, "-m", "pip", "--version"], capture_output=True, text=True, check=False)
    if pip.returncode != 0:
        return None
    real, version = answer.stdout.split()
    return real, version
