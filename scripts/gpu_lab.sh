#!/usr/bin/env bash
# Everything issue 12 measures on a lent GPU, in one call, within 7 minutes of device time:
#
#   scripts/gpu_lab.sh [--archive FILE.tar.gz] OUTDIR   on the GPU machine (recipe: ../shared/gpu/README.md)
#   scripts/gpu_lab.sh --dry-run OUTDIR   anywhere: the same steps at tiny sizes under numba's CUDA
#                                         simulator, no installs (tests/test_gpu_lab.py runs it)
#
# --archive FILE: after every step, OUTDIR packed into FILE (written whole, then renamed): the device
# tool brings back at most 8 files from $OUT, and the lab writes 11, so run it as
#   scripts/gpu_lab.sh --archive "$OUT/lab.tar.gz" /tmp/lab
# (a step that times out still leaves the archive of the steps before it).
#
# Steps, each under its own time limit (so one stuck step cannot eat the budget), logged with
# UTC timestamps to stdout and OUTDIR/lab.log; a failed or timed-out step is logged and the next
# one runs (the Python steps rewrite their JSON after every row, so a timeout keeps what finished):
#   1. install   the wheels carried in .whl/ into /tmp/site (numpy 2.4, simpy; make them here
#                with `bash ../shared/gpu/fetch-wheels.sh`); skipped in a dry run
#   0. env       nvidia-smi, python and package versions as they run (after the install) -> OUTDIR/env.txt
#   2. calibrate pramsim calibrate                                    -> OUTDIR/calibrated.{json,toml}
#   3. kernels   scripts/gpu_kernels.py: SGEMM and attention beside cuBLAS / torch SDPA
#                                                                     -> OUTDIR/kernels.{json,md}
#   4. suite     scripts/gpu_validate.py --suite both, per-launch CUDA events -> OUTDIR/suite.json
#                (the H100 took 103 s for the benchmark half)
#   5. compare   scripts/gpu_compare.py against docs/validation/h200-predictions-*.json
#                (out-of-sample errors)                               -> OUTDIR/comparison.{json,md}
#   6. summary   OUTDIR/summary.md (every step's status and the tables)
# Budget (seconds): 40 + 10 + 60 + 110 + 120 + 15 = 355 at most, plus 10 s of grace per step to stop
# a step's children: 415 s, so a device call with timeout_s 450 ends with the summary written.
# Exit status: 0 when every step succeeded, 1 otherwise (every step runs either way).
set -uo pipefail

usage() { echo "usage: $0 [--dry-run] [--archive FILE.tar.gz] OUTDIR" >&2; exit 2; }
DRY=0 ARCHIVE=""
while [ $# -gt 1 ]; do
    case "$1" in
        --dry-run) DRY=1; shift ;;
        --archive) ARCHIVE=$2; shift 2 ;;
        *) usage ;;
    esac
done
[ $# -eq 1 ] || usage
OUTDIR=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUTDIR" || { echo "cannot create $OUTDIR" >&2; exit 2; }
OUTDIR=$(cd "$OUTDIR" && pwd)
LOG="$OUTDIR/lab.log"
: > "$LOG"
STATUS="$OUTDIR/steps.tsv"
printf 'step\tstatus\tseconds\n' > "$STATUS"
FAILED=0

pack() {  # OUTDIR into the archive, whole or not at all
    [ -n "$ARCHIVE" ] || return 0
    tar -czf "$ARCHIVE.part" -C "$OUTDIR" . && mv -f "$ARCHIVE.part" "$ARCHIVE"
}

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

# step NAME SECONDS COMMAND...: run under `timeout`, output to the log; record the status.
step() {
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS rc
    log "step $name: start (limit ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" >> "$LOG" 2>&1
    rc=$?
    local took=$((SECONDS - t0)) status=ok
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="timed out after ${limit}s"
    elif [ $rc -ne 0 ]; then status="failed (exit $rc)"; fi
    [ "$status" = ok ] || FAILED=1
    printf '%s\t%s\t%s\n' "$name" "$status" "$took" >> "$STATUS"
    log "step $name: $status in ${took}s"
    pack
    return 0
}

cd "$ROOT" || exit 2
if [ $DRY -eq 1 ]; then
    export NUMBA_ENABLE_CUDASIM=1
    SIZES_SUITE=(--defaults --suite both --only vector_mul,tree_sum --repeat 1)
    SIZES_KERNELS=(--small --repeat 1)
    log "dry run: numba's CUDA simulator, tiny sizes, no installs; times mean nothing"
else
    SIZES_SUITE=(--suite both --repeat 5)
    SIZES_KERNELS=(--repeat 5)
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# A private user profile folder (the lab never reads or writes the user's own profiles) and
# private code caches: with all three set, pramsim never imports platformdirs, which the GPU
# machine may lack (it became a dependency after the H100 run).
export PRAMSIM_MACHINES_DIR="$OUTDIR/machines"
LAB_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/pramsim-lab-cache.XXXXXX")
trap 'rm -rf "$LAB_CACHE"' EXIT
export PRAMSIM_CUDA_CACHE="$LAB_CACHE/cuda" PRAMSIM_COMPILED_CACHE="$LAB_CACHE/cpu"
export PRAMSIM_PROGRESS=0
PY=${PYTHON:-python3}

env_report() {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo 'none (no .git here: record the commit with the results)') $(git -C "$ROOT" status --porcelain 2>/dev/null | head -c 1 | sed 's/./(dirty)/')"
    command -v nvidia-smi >/dev/null && nvidia-smi || echo "nvidia-smi: not found"
    "$PY" --version
    "$PY" - <<'EOF'
import importlib.metadata as md
for name in ("numpy", "numba", "numba-cuda", "torch", "cupy", "cupy-cuda12x", "cupy-cuda13x", "simpy", "click",
             "platformdirs"):
    try:
        print(f"{name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name} not installed")
EOF
}

install_wheels() {
    ls "$ROOT"/.whl/*.whl >/dev/null 2>&1 || {
        echo "no wheels in $ROOT/.whl: run 'bash ../shared/gpu/fetch-wheels.sh' on your own machine first"; return 1; }
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$ROOT"/.whl/*.whl
}

export -f env_report install_wheels
export PY ROOT OUTDIR
log "gpu_lab: results in $OUTDIR"
if [ $DRY -eq 0 ]; then
    step install 40 bash -c install_wheels
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
step env 10 bash -c 'env_report > "$OUTDIR/env.txt" 2>&1'   # after the install: the versions that run
step calibrate 60 "$PY" -m pramsim.cli calibrate --out "$OUTDIR/calibrated.toml" --name calibrated
step kernels 110 "$PY" scripts/gpu_kernels.py "${SIZES_KERNELS[@]}" --out "$OUTDIR/kernels.json"
step suite 120 "$PY" scripts/gpu_validate.py "${SIZES_SUITE[@]}" --json "$OUTDIR/suite.json"
step compare 15 "$PY" scripts/gpu_compare.py "$OUTDIR/suite.json" --out "$OUTDIR/comparison.json"

{
    echo "# gpu_lab $( [ $DRY -eq 1 ] && echo '(dry run: simulator, tiny sizes)') $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "| step | status | seconds |"; echo "|---|---|---:|"
    tail -n +2 "$STATUS" | awk -F'\t' '{print "| " $1 " | " $2 " | " $3 " |"}'
    echo; echo '## Environment'; echo; echo '```'; cat "$OUTDIR/env.txt" 2>/dev/null; echo '```'
    for f in kernels.md comparison.md; do
        echo; [ -f "$OUTDIR/$f" ] && cat "$OUTDIR/$f" || echo "($f not written: see lab.log)"
    done
} > "$OUTDIR/summary.md"
log "gpu_lab: done in ${SECONDS}s; summary in $OUTDIR/summary.md"
pack
exit $FAILED
