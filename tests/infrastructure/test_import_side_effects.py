"""Importing a module changes nothing in the process environment (PATH, AWS_*, ...): a new process imports every
module of the project's packages and compares os.environ before and after. jsii's node must be on PATH for the CDK
modules (the caller puts it there, as cdk.app's main() does); the variables ensure_node() would set are left out, so a
module that called it on import is caught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
before = dict(os.environ)
skipped = {"__main__", "sandbox_init"}  # entry points: they run when imported
names = []
for package in ("contracts", "services", "restaurant_pipeline", "cdk"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
        if info.name.rsplit(".", 1)[-1] in skipped:
            continue
        importlib.import_module(info.name)
        names.append(info.name)
after = dict(os.environ)
changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
print(json.dumps({"imported": len(names), "changed": changed}))
"""


def test_importing_any_module_leaves_the_environment_alone():
    leave_out = ("JSII_NODE", "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION")  # what ensure_node() would set
    environment = {name: value for name, value in os.environ.items() if name not in leave_out}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["imported"] > 100
    assert report["changed"] == []
