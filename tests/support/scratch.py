"""A scratch copy of the checkout for tests that change the repository itself (the walks of docs/architecture.md):
copy it, hash it, run commands that import the copy's packages instead of this checkout's."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_checkout(target: Path) -> None:
    """The repository's files as a developer has them: tracked and not ignored ones, from the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def digests(root: Path) -> dict[str, str]:
    """Every file under `root` (bytecode caches aside) by its relative path: its sha256."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Files new or different in `after`."""
    return {name for name, digest in after.items() if before.get(name) != digest}


def run_in_copy(root: Path, *args: str, timeout: float = 240) -> str:
    """A command in the copy, importing the copy's packages (its root first on sys.path, before the editable
    install's finder, which maps them to this checkout)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PIPELINE_CONFIG", None)
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed in the copy:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout
