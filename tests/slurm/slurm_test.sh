#!/usr/bin/env bash
# The Slurm path on a real single-node controller: brings up munged, slurmctld and slurmd under a
# temporary directory (launch/slurm-local), runs one scenario, and always stops the daemons.
#
#   slurm_test.sh srun      srun --mpi=pmix -n 4 embed --tp 2 gives the same outputs as mpirun
#   slurm_test.sh sbatch    the three slurm/ templates run to completion through sbatch
#   slurm_test.sh requeue   a job sent USR1 mid-run is requeued and finishes, outputs
#                           byte-identical to an uninterrupted run; a requeue into the same
#                           output directory with changed flags is refused, naming the flag
#   slurm_test.sh bad       srun without PMIx and tasks per node that do not fit --tp fail fast
#                           with a message saying how to launch
#
# Environment (set by CTest): WEBSSL_BIN, WEBSSL_PYTHON, WEBSSL_SOURCE_DIR. Exit status 77
# (skipped) only where a controller cannot run here: not root, or no Slurm/munge binaries.
set -euo pipefail

scenario="${1:?usage: slurm_test.sh srun|sbatch|requeue|bad}"
SKIP=77
skip() { echo "SKIPPED: $*"; exit "$SKIP"; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "a Slurm controller and node daemon need root here (slurmd starts job steps as the submitting user); run the slurm tests as root"
for b in munged slurmctld slurmd srun sbatch scontrol squeue scancel; do
  command -v "$b" >/dev/null || skip "$b not found: install slurm-wlm and munge (launch/install-deps)"
done
: "${WEBSSL_BIN:?WEBSSL_BIN must name the webssl-dist program}"
: "${WEBSSL_PYTHON:?WEBSSL_PYTHON must name the reference Python}"
: "${WEBSSL_SOURCE_DIR:?WEBSSL_SOURCE_DIR must name the source tree}"
SRC="$WEBSSL_SOURCE_DIR"

tmp="$(mktemp -d /tmp/webssl-slurm-test.XXXXXX)"
chmod 0755 "$tmp"
cleanup() {
  local rc=$?
  "$SRC/launch/slurm-local" down --dir "$tmp/slurm" >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP" ]; then
    for f in "$tmp"/slurm/log/*.log "$tmp"/*.out; do
      [ -f "$f" ] && { echo "----- $f (last 30 lines)"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

"$SRC/launch/slurm-local" up --dir "$tmp/slurm" --cpus 8
export SLURM_CONF="$tmp/slurm/etc/slurm.conf"
srun --mpi=list 2>&1 | grep -qw pmix || fail "srun --mpi=list does not offer pmix (Debian's slurm-wlm has it)"

# Reproducible HDF5 files (the creation time attribute comes from here), so outputs compare byte
# for byte. Exported into the jobs with the rest of the environment.
export SOURCE_DATE_EPOCH=1700000000
export OMP_NUM_THREADS=1

# A tiny Web-DINO-shaped HF model and N_COPIES x 7 sample images in one directory.
make_sample() {
  local copies="$1" i f
  "$WEBSSL_PYTHON" "$SRC/launch/make-sample.py" "$tmp/sample" >/dev/null
  mkdir -p "$tmp/images"
  for i in $(seq -w 1 "$copies"); do
    for f in "$tmp"/sample/images/*; do cp "$f" "$tmp/images/$i-$(basename "$f")"; done
  done
}

compare() { "$WEBSSL_PYTHON" "$SRC/tests/slurm/compare_outputs.py" "$@"; }

# Waits for job $1 to leave the queue (at most $2 seconds); prints its final state.
wait_job() {
  local id="$1" limit="$2" t=0 state
  while [ "$t" -lt "$limit" ]; do
    state="$(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')"
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$state"; return 0 ;; esac
    sleep 1; t=$(( t + 1 ))
  done
  echo "TIMEOUT_WAITING($state)"
}

embed_args=(--model "$tmp/sample/model" --device cpu --shard-size 2 --batch 2)

case "$scenario" in
srun)
  make_sample 2
  echo "== srun --mpi=pmix -n 4 embed --tp 2"
  timeout 120 srun --mpi=pmix -n 4 --chdir="$tmp" "$WEBSSL_BIN" embed "${embed_args[@]}" \
    --input "$tmp/images" --output "$tmp/out-srun" --tp 2 2>&1 | tee "$tmp/srun.log"
  grep -q "layout: 4 ranks = dp 2 x tp 2" "$tmp/srun.log" || fail "no rank layout line for 4 ranks = dp 2 x tp 2"
  for r in 0 1 2 3; do
    grep -q "layout: host .* rank $r/4 .*tp rank $(( r % 2 ))/2" "$tmp/srun.log" || fail "rank $r missing from the layout"
  done
  echo "== mpirun -n 4 embed --tp 2"
  timeout 120 "$SRC/launch/mpirun-local" -n 4 "$WEBSSL_BIN" embed "${embed_args[@]}" \
    --input "$tmp/images" --output "$tmp/out-mpirun" --tp 2
  compare "$tmp/out-mpirun" "$tmp/out-srun" --bytes || fail "srun and mpirun outputs differ"
  ;;

sbatch)
  make_sample 1
  "$WEBSSL_PYTHON" - "$tmp/images" "$tmp/shards" <<'EOF'
import os, sys, tarfile
src, dst = sys.argv[1:3]
os.makedirs(dst)
files = sorted(os.listdir(src))
for s in range(4):                         # 4 WebDataset shards of 2 images each
    with tarfile.open(os.path.join(dst, f"{s:05d}.tar"), "w") as t:
        for j, f in enumerate(files[2 * s:2 * s + 2]):
            t.add(os.path.join(src, f), arcname=f"s{s}-{j:03d}{os.path.splitext(f)[1]}")
EOF
  echo "== reference: mpirun -n 2 over the 4 tar shards"
  "$SRC/launch/mpirun-local" -n 2 "$WEBSSL_BIN" embed "${embed_args[@]}" \
    --input "$tmp/shards/{00000..00003}.tar" --output "$tmp/out-ref" --tp 2 >/dev/null 2>&1 \
    || fail "reference run failed"
  # Local overrides of the templates' cluster settings: CPUs instead of GPUs, 4 tasks on 8 CPUs.
  local_flags=(--parsable --chdir="$tmp" --gpus-per-node=0 --cpus-per-task=1 --mem=0 --time=10)
  common_env="ALL,MODEL=$tmp/sample/model,OUTPUT=$tmp/out,DEVICE=cpu,TP=2,WEBSSL_DIST=$WEBSSL_BIN,EMBED_ARGS=--shard-size 2 --batch 2"

  echo "== sbatch slurm/single-node.sbatch"
  id=$(sbatch "${local_flags[@]}" --ntasks-per-node=4 --output="$tmp/single.out" \
    --export="$common_env,INPUT=$tmp/shards/{00000..00003}.tar,OUTPUT=$tmp/out-single" \
    "$SRC/slurm/single-node.sbatch")
  state=$(wait_job "$id" 120); cat "$tmp/single.out"
  [ "$state" = COMPLETED ] || fail "single-node job $id ended $state"
  compare "$tmp/out-ref" "$tmp/out-single" --bytes || fail "single-node outputs differ from mpirun"

  echo "== sbatch slurm/multi-node.sbatch (one node here, FABRIC=eth over loopback)"
  id=$(sbatch "${local_flags[@]}" --nodes=1 --ntasks-per-node=2 --output="$tmp/multi.out" \
    --export="$common_env,INPUT=$tmp/shards/{00000..00003}.tar,OUTPUT=$tmp/out-multi,FABRIC=eth,OMPI_MCA_btl_tcp_if_include=lo,NCCL_SOCKET_IFNAME=lo" \
    "$SRC/slurm/multi-node.sbatch")
  state=$(wait_job "$id" 120); cat "$tmp/multi.out"
  [ "$state" = COMPLETED ] || fail "multi-node job $id ended $state"
  compare "$tmp/out-ref" "$tmp/out-multi" --bytes || fail "multi-node outputs differ from mpirun"

  echo "== sbatch --array=0-1 slurm/array.sbatch (2 shards per array task)"
  id=$(sbatch "${local_flags[@]}" --array=0-1 --ntasks-per-node=2 --output="$tmp/array-%a.out" \
    --export="$common_env,SHARD_PATTERN=$tmp/shards/%05d.tar,SHARDS_TOTAL=4,SHARDS_PER_TASK=2,OUTPUT=$tmp/out-array" \
    "$SRC/slurm/array.sbatch")
  for a in 0 1; do
    state=$(wait_job "${id}_$a" 120); cat "$tmp/array-$a.out"
    [ "$state" = COMPLETED ] || fail "array task ${id}_$a ended $state"
  done
  mkdir "$tmp/out-array-all"
  ln -s "$tmp"/out-array/part-0000/*.h5 "$tmp"/out-array/part-0001/*.h5 "$tmp/out-array-all/"
  [ "$(ls "$tmp"/out-array/part-0000/*.h5 | wc -l)" -eq 2 ] || fail "array task 0 did not write its 2 shards"
  compare "$tmp/out-ref" "$tmp/out-array-all" --bytes || fail "array outputs differ from mpirun"
  ;;

requeue)
  make_sample 12
  echo "== reference: uninterrupted mpirun -n 2 --tp 2"
  "$SRC/launch/mpirun-local" -n 2 "$WEBSSL_BIN" embed "${embed_args[@]}" \
    --input "$tmp/images" --output "$tmp/out-ref" --tp 2 >/dev/null 2>&1 || fail "reference run failed"
  shards_total=$(ls "$tmp"/out-ref/*.h5 | wc -l)
  env_list="ALL,MODEL=$tmp/sample/model,INPUT=$tmp/images,OUTPUT=$tmp/out,DEVICE=cpu,TP=2,WEBSSL_DIST=$WEBSSL_BIN,EMBED_ARGS=--shard-size 2 --batch 2"
  flags=(--parsable --chdir="$tmp" --gpus-per-node=0 --cpus-per-task=1 --mem=0 --time=10 --ntasks-per-node=2)

  echo "== sbatch slurm/single-node.sbatch; USR1 once the first shard is written"
  id=$(sbatch "${flags[@]}" --output="$tmp/requeue.out" --export="$env_list" "$SRC/slurm/single-node.sbatch")
  for _ in $(seq 600); do
    compgen -G "$tmp/out/*.h5" >/dev/null && break
    sleep 0.1
  done
  done_at_signal=$(compgen -G "$tmp/out/*.h5" | wc -l)
  scancel --batch --signal=USR1 "$id"
  echo "USR1 sent with $done_at_signal of $shards_total shards written"
  [ "$done_at_signal" -lt "$shards_total" ] || fail "the run finished before the signal: make it longer"
  state=$(wait_job "$id" 150); cat "$tmp/requeue.out"
  restarts=$(scontrol show job "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  echo "job $id: $state after $restarts restart(s)"
  [ "$state" = COMPLETED ] || fail "requeued job $id ended $state"
  [ "${restarts:-0}" -ge 1 ] || fail "job $id was not requeued"
  grep -q "requeueing job $id" "$tmp/requeue.out" || fail "the template did not requeue on status 3"
  grep -q "already done" "$tmp/requeue.out" || fail "the resumed run did not report skipped shards"
  ! compgen -G "$tmp/out/.*.tmp.*" >/dev/null || fail "temporary files left in the output directory"
  compare "$tmp/out-ref" "$tmp/out" --bytes || fail "resumed outputs differ from the uninterrupted run"

  echo "== the same job requeued with changed flags into the same output directory"
  id=$(sbatch "${flags[@]}" --output="$tmp/changed.out" \
    --export="${env_list/--batch 2/--batch 2 --out-dtype f32}" "$SRC/slurm/single-node.sbatch")
  state=$(wait_job "$id" 60); cat "$tmp/changed.out"
  [ "$state" = FAILED ] || fail "a job with changed flags into $tmp/out ended $state, not refused"
  grep -q "out_dtype" "$tmp/changed.out" || fail "the refusal does not name the changed setting (out_dtype)"
  ;;

bad)
  make_sample 1
  echo "== srun without --mpi=pmix"
  set +e
  timeout 60 srun -n 2 --chdir="$tmp" "$WEBSSL_BIN" embed "${embed_args[@]}" \
    --input "$tmp/images" --output "$tmp/out-nopmix" --tp 2 >"$tmp/nopmix.log" 2>&1
  rc=$?
  set -e
  cat "$tmp/nopmix.log"
  [ "$rc" -ne 124 ] || fail "srun without PMIx hung (killed after 60 s)"
  [ "$rc" -ne 0 ] || fail "srun without PMIx succeeded"
  grep -q "srun --mpi=pmix" "$tmp/nopmix.log" || fail "no message saying to launch with srun --mpi=pmix"

  echo "== 2 nodes x 1 task each (as srun reports it) with --tp 2"
  cat > "$tmp/two-nodes" <<EOF
#!/bin/sh
# Presents this one-node step as 2 nodes with one task each, as srun would on two nodes.
SLURM_STEP_TASKS_PER_NODE='1(x2)' SLURM_STEP_NUM_NODES=2 exec "\$@"
EOF
  chmod +x "$tmp/two-nodes"
  set +e
  timeout 60 srun --mpi=pmix -n 2 --chdir="$tmp" "$tmp/two-nodes" "$WEBSSL_BIN" embed "${embed_args[@]}" \
    --input "$tmp/images" --output "$tmp/out-split" --tp 2 >"$tmp/split.log" 2>&1
  rc=$?
  set -e
  cat "$tmp/split.log"
  [ "$rc" -eq 1 ] || fail "tasks per node that do not fit --tp: exit status $rc, expected 1"
  grep -q "ntasks-per-node a multiple of 2" "$tmp/split.log" || fail "the message does not say how to place the tasks"
  ;;

*) fail "unknown scenario '$scenario'" ;;
esac
echo "PASS: slurm $scenario"
