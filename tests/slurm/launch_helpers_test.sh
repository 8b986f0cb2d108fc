#!/usr/bin/env bash
# Offline tests of the launch helpers' argument handling:
#  - launch/download-model: bad names and options refused with a message, URLs built from the
#    name, revision and HF_ENDPOINT, and a full download (sharded index, preprocessor config,
#    resume of an existing file) from a local HTTP server laid out like the hub;
#  - launch/mpirun-local: the mpirun line it builds, and bad rank counts;
#  - launch/slurm-local: unknown commands and bad numbers refused before anything starts.
# Environment (set by CTest): WEBSSL_SOURCE_DIR, WEBSSL_PYTHON (runs the local HTTP server).
set -euo pipefail
SRC="${WEBSSL_SOURCE_DIR:?}"
PY="${WEBSSL_PYTHON:?}"
dl="$SRC/launch/download-model"
tmp="$(mktemp -d)"
server=""
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect_fail PATTERN CMD...: CMD exits non-zero and its output contains PATTERN.
expect_fail() {
  local pattern="$1" out rc
  shift
  set +e; out="$("$@" 2>&1)"; rc=$?; set -e
  [ "$rc" -ne 0 ] || fail "'$*' succeeded"
  grep -qF -- "$pattern" <<< "$out" || fail "'$*' said '$out', expected '$pattern'"
  echo "ok: $* -> $(head -n 1 <<< "$out")"
}

echo "== download-model: arguments"
expect_fail "no model named" "$dl"
expect_fail "is not a repository name" "$dl" 'facebook/web ssl'
expect_fail "is not a repository name" "$dl" 'a/b/c'
expect_fail "unknown option '--bogus'" "$dl" webssl-dino1b-full2b-224 --bogus
expect_fail "one model at a time" "$dl" webssl-a webssl-b
expect_fail "is not a branch, tag or commit" "$dl" webssl-a --revision ../../etc
expect_fail "--dest needs a directory" "$dl" webssl-a --dest
expect_fail "is not a file name inside the repository" "$dl" webssl-a --file ../x

echo "== download-model: URLs"
out="$(HF_ENDPOINT=https://hub.example/ "$dl" webssl-dino1b-full2b-224 --revision v1.0 --file README.md --dry-run)"
echo "$out"
grep -qx "https://hub.example/facebook/webssl-dino1b-full2b-224/resolve/v1.0/config.json" <<< "$out" || fail "config URL"
grep -qx "https://hub.example/facebook/webssl-dino1b-full2b-224/resolve/v1.0/model.safetensors" <<< "$out" || fail "weights URL"
grep -qx "https://hub.example/facebook/webssl-dino1b-full2b-224/resolve/v1.0/README.md" <<< "$out" || fail "--file URL"
out="$(env -u HF_ENDPOINT "$dl" someone/webssl-mae300m-full2b-224 --dry-run)"
grep -q "^https://huggingface.co/someone/webssl-mae300m-full2b-224/resolve/main/config.json$" <<< "$out" \
  || fail "default endpoint, owner kept: $out"
grep -q "models/webssl-mae300m-full2b-224" <<< "$out" || fail "default destination: $out"

# A node without curl or wget (a bare one) cannot download: that part is left out there.
if command -v curl >/dev/null || command -v wget >/dev/null; then
  echo "== download-model: from a local server laid out like the hub"
  repo="$tmp/hub/facebook/webssl-tiny/resolve/main"
  mkdir -p "$repo"
  echo '{"model_type": "dinov2"}' > "$repo/config.json"
  echo '{"size": 1}' > "$repo/preprocessor_config.json"
  cat > "$repo/model.safetensors.index.json" <<'EOF'
  {"metadata": {"total_size": 8},
   "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                  "b.weight": "model-00002-of-00002.safetensors",
                  "c.weight": "model-00001-of-00002.safetensors"}}
EOF
  printf 'part-one' > "$repo/model-00001-of-00002.safetensors"
  printf 'part-two' > "$repo/model-00002-of-00002.safetensors"
  port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  (cd "$tmp/hub" && exec "$PY" -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
  server=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  export HF_ENDPOINT="http://127.0.0.1:$port"
  mkdir -p "$tmp/dest"
  printf 'part-one' > "$tmp/dest/model-00001-of-00002.safetensors"    # present: kept, not fetched
  "$dl" webssl-tiny --dest "$tmp/dest" | tee "$tmp/dl.log"
  for f in config.json preprocessor_config.json model.safetensors.index.json \
           model-00001-of-00002.safetensors model-00002-of-00002.safetensors; do
    cmp "$repo/$f" "$tmp/dest/$f" || fail "$f differs from the server's"
  done
  grep -q "^have .*model-00001-of-00002.safetensors" "$tmp/dl.log" || fail "an existing shard was fetched again"
  ! compgen -G "$tmp/dest/*.part" >/dev/null || fail ".part files left"
  expect_fail "has no config.json" "$dl" webssl-missing --dest "$tmp/none"
  unset HF_ENDPOINT
else
  echo "== download-model: from a local server: left out (no curl or wget here)"
fi

echo "== mpirun-local"
out="$(OMP_NUM_THREADS=3 "$SRC/launch/mpirun-local" -n 4 --print prog --tp 2)"
echo "$out"
grep -q "^OMP_NUM_THREADS=3 .* -n 4 .*prog --tp 2$" <<< "$out" || fail "mpirun line: $out"
if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
  grep -q -- "--oversubscribe --bind-to none --map-by slot" <<< "$out" || fail "Open MPI flags: $out"
fi
expect_fail "-n needs a positive number" "$SRC/launch/mpirun-local" -n 0 prog
expect_fail "-n needs a positive number" "$SRC/launch/mpirun-local" prog
expect_fail "no command given" "$SRC/launch/mpirun-local" -n 2
expect_fail "cannot be read" "$SRC/launch/mpirun-local" -n 2 --hostfile "$tmp/nohosts" prog

echo "== slurm-local"
expect_fail "unknown command 'start'" "$SRC/launch/slurm-local" start
expect_fail "--cpus 'x' is not a positive number" "$SRC/launch/slurm-local" up --cpus x --dir "$tmp/s"
expect_fail "unknown argument '--bogus'" "$SRC/launch/slurm-local" status --bogus
[ ! -e "$tmp/s" ] || fail "slurm-local created its directory despite bad arguments"
echo "PASS: launch helpers"
