#!/usr/bin/env bash
# Move constraints.txt (the tested environment) forward: install pramsim with its test and dask
# extras into a fresh virtual environment from the registries (newest releases within
# pyproject.toml's ranges), run the suite there, and write the new constraints only if it passes.
#
#   scripts/update_lock.sh            # update constraints.txt, then run the suite
#   scripts/update_lock.sh --check    # only report what would change (no suite, no write)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d "${TMPDIR:-/tmp}/pramsim-lock.XXXXXX")
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[test,dask]'
new="$venv/constraints.txt"
{
  sed -n '1,/^# Generated/p' constraints.txt
  "$venv/bin/python" -m pip freeze --exclude-editable | grep -v '^pramsim'
} > "$new"
if diff -u constraints.txt "$new"; then
  echo "constraints.txt is up to date"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  exit 0
fi
# The suite with cold caches, as CI runs it, in the new environment.
export NUMBA_CACHE_DIR="$venv/numba-cache" PRAMSIM_COMPILED_CACHE="$venv/pramsim-cpu" PRAMSIM_CUDA_CACHE="$venv/pramsim-cuda"
mkdir -m 700 "$NUMBA_CACHE_DIR" "$PRAMSIM_COMPILED_CACHE" "$PRAMSIM_CUDA_CACHE"
if "$venv/bin/python" -m pytest; then
  cp "$new" constraints.txt
  echo "constraints.txt updated: commit it with the suite's result"
else
  echo "the suite fails with the newer versions above: constraints.txt left as it was" >&2
  exit 1
fi
