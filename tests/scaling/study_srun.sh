#!/usr/bin/env bash
# launch/scaling-study under Slurm: brings up a single-node controller in a temporary directory
# (launch/slurm-local), runs a two-run tiny-dino sweep (tp 1 and tp 2) with --launcher srun inside
# an allocation, checks the CSV and plots like the mpirun smoke test, and always stops the
# daemons. Exit status 77 (skipped) only where a controller cannot run: not root, or no
# Slurm/munge binaries. Environment (set by CTest): WEBSSL_BIN, WEBSSL_PYTHON, WEBSSL_SOURCE_DIR.
set -euo pipefail
SKIP=77
skip() { echo "SKIPPED: $*"; exit "$SKIP"; }

[ "$(id -u)" -eq 0 ] || skip "a Slurm controller and node daemon need root here"
for b in munged slurmctld slurmd srun salloc; do
  command -v "$b" >/dev/null || skip "$b not found: install slurm-wlm and munge (launch/install-deps)"
done
SRC="${WEBSSL_SOURCE_DIR:?}"
: "${WEBSSL_BIN:?}" "${WEBSSL_PYTHON:?}"

tmp="$(mktemp -d /tmp/webssl-scaling-srun.XXXXXX)"
chmod 0755 "$tmp"
cleanup() {
  local rc=$?
  "$SRC/launch/slurm-local" down --dir "$tmp/slurm" >/dev/null 2>&1 || true
  [ "$rc" -eq 0 ] || [ "$rc" -eq "$SKIP" ] || tail -n 20 "$tmp"/study/logs/*.log 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

"$SRC/launch/slurm-local" up --dir "$tmp/slurm" --cpus 4 >/dev/null
export SLURM_CONF="$tmp/slurm/etc/slurm.conf"
salloc -n 2 --time 5 "$WEBSSL_PYTHON" "$SRC/launch/scaling-study" --launcher srun --bin "$WEBSSL_BIN" \
  --out "$tmp/study" --arch tiny-dino --tp 1,2 --batch 2 --iters 3 --threads 1
grep -q ',srun,ok,' "$tmp/study/runs.csv" || { echo "FAIL: no srun row in runs.csv"; exit 1; }
"$WEBSSL_PYTHON" "$SRC/tests/bench/plot_scaling.py" "$tmp/study/runs.csv" --out "$tmp/study/img"
"$WEBSSL_PYTHON" "$SRC/tests/scaling/check_study.py" "$tmp/study" "$tmp/study/img" 2
echo "scaling-study under srun: ok"
