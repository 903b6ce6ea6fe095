"""`python -m restaurant_pipeline.artifacts [--host] [--service S]...`: `make package` / `make package-host`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from restaurant_pipeline.artifacts.build import ArtifactSize, PackagingError, build
from restaurant_pipeline.artifacts.specs import ARTIFACTS, BUILD_DIR, LAMBDA


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m restaurant_pipeline.artifacts", description=__doc__)
    parser.add_argument("--service", action="append", choices=sorted(ARTIFACTS), help="build only this function")
    parser.add_argument(
        "--host", action="store_true", help="the artifacts for this machine's Lambda sandbox (cached), not for AWS"
    )
    args = parser.parse_args(argv)
    services = args.service or list(ARTIFACTS)
    if args.host:
        return _host(services)
    sizes: list[ArtifactSize] = []
    for service in services:
        print(f"building {service} (pip, {LAMBDA.description}) ...", flush=True)
        try:
            sizes.append(build(ARTIFACTS[service]))
        except PackagingError as exc:
            print(f"make package: {exc}", file=sys.stderr)
            return 1
    for size in sizes:
        print(size.line())
        if not size.fits_direct_upload:
            print(f"  {size.service}: over 50 MB zipped: fine through S3 (CDK uploads assets there), not directly.")
    report = BUILD_DIR / "sizes.json"
    report.write_text(json.dumps([asdict(size) for size in sizes], indent=2) + "\n", encoding="utf-8")
    print(f"artifacts in {BUILD_DIR}; sizes in {report}")
    return 0


def _host(services: list[str]) -> int:
    from restaurant_pipeline.artifacts.host import ensure_host_artifacts
    from restaurant_pipeline.model.config import ConfigError, load_config

    try:
        nlp_enabled = load_config().nlp.enabled
        built = ensure_host_artifacts(nlp_enabled, services, progress=lambda line: print(line, flush=True))
    except (PackagingError, ConfigError) as exc:
        print(f"make package-host: {exc}", file=sys.stderr)
        return 1
    print(built.summary())
    for service, root in built.task_roots.items():
        print(f"  {service:<12} {root}")
    print(f"  {'runtime':<12} {built.runtime_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
