"""The Lambda artifacts: what each function ships (specs.py), the builder (build.py), this machine's copy (host.py)."""
