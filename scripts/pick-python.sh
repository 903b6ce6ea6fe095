#!/bin/sh
# Prints the path of a Python the project supports (3.11, 3.12 or 3.13, with its venv module) for `make` to build
# .venv/ with; otherwise says what was found and how to get a supported one, and exits 1.
# Usage: scripts/pick-python.sh [PYTHON]   (PYTHON: what `make PYTHON=...` named; default: look on PATH)
candidates=${1:-"python3 python3.13 python3.12 python3.11"}
found=""
for candidate in $candidates; do
    path=$(command -v "$candidate" 2>/dev/null) || continue
    version=$("$path" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    case "$version" in
        3.11 | 3.12 | 3.13)
            if "$path" -c 'import ensurepip, venv' 2>/dev/null; then
                echo "$path"
                exit 0
            fi
            found="$found
  $candidate ($path): Python $version, but without its venv module (Debian/Ubuntu: sudo apt install python$version-venv)"
            ;;
        *)
            found="$found
  $candidate ($path): Python $version"
            ;;
    esac
done
{
    echo "restaurant-pipeline needs Python 3.11, 3.12 or 3.13 to build .venv/."
    if [ -n "$found" ]; then
        echo "Found, and not usable:$found"
    else
        echo "Found none of: $candidates"
    fi
    echo "Install one, then run make again (or name it: make PYTHON=/path/to/python3.12 ...):"
    echo "  macOS:          brew install python@3.13   (or the installer from python.org)"
    echo "  Debian/Ubuntu:  sudo apt install python3.12 python3.12-venv   (the version your release ships, 3.11+)"
    echo "  anywhere:       pyenv install 3.13, or uv python install 3.13"
} >&2
exit 1
