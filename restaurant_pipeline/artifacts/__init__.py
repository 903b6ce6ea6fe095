"""The Lambda artifacts: what each function ships (specs.py), the builder (build.py), this machine's copy (host.py),
the CPython interpreters both look for (interpreters.py)."""
