#!/bin/sh
# NCCL discovery (cmake/NCCL.cmake) at configure time, on fake installations: a Python
# nvidia-nccl wheel (site-packages/nvidia/nccl/{include/nccl.h,lib/libnccl.so.2}, no unversioned
# link name) found through python3, and WEBSSL_NCCL_ROOT, which wins over the wheel.
#   nccl_discovery.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fake() {  # fake DIR MINOR: nccl.h and a libnccl.so.2 under DIR/include and DIR/lib
  mkdir -p "$1/include" "$1/lib"
  printf '#define NCCL_MAJOR 2\n#define NCCL_MINOR %s\n#define NCCL_PATCH 3\n' "$2" >"$1/include/nccl.h"
  echo 'int ncclGetVersion(int *v) { *v = 0; return 0; }' >"$tmp/stub.c"
  cc -shared -fPIC -Wl,-soname,libnccl.so.2 -o "$1/lib/libnccl.so.2" "$tmp/stub.c"
}
# The machine's own NCCL (/usr, /usr/local) would come before a wheel: those prefixes are ignored.
probe() {  # probe NAME [env...]: configures the probe project, prints its nccl_probe line
  name=$1; shift
  env "$@" cmake -S "$src/tests/common/nccl_probe" -B "$tmp/$name" \
    "-DCMAKE_IGNORE_PREFIX_PATH=/usr;/usr/local;/" >"$tmp/$name.log" 2>&1 ||
    { cat "$tmp/$name.log"; exit 1; }
  grep 'nccl_probe:' "$tmp/$name.log" | sed 's/^-- //'
}
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

none=$(probe none)
echo "no hint:          $none"
wheel=$tmp/site/nvidia/nccl
fake "$wheel" 97
touch "$wheel/__init__.py"
if [ "$none" = "nccl_probe: not found" ]; then
  line=$(probe wheel PYTHONPATH="$tmp/site")
  echo "wheel:            $line"
  case $line in
    "nccl_probe: found (2.97.3, $wheel/lib/libnccl.so.2, Python wheel of "*) ;;
    *) echo "FAIL: the wheel's NCCL was not found"; exit 1 ;;
  esac
else
  echo "note: NCCL found outside /usr and /usr/local, which comes before a wheel: the wheel case is not checked"
fi
fake "$tmp/root" 98
line=$(probe root PYTHONPATH="$tmp/site" WEBSSL_NCCL_ROOT="$tmp/root")
echo "WEBSSL_NCCL_ROOT: $line"
case $line in
  "nccl_probe: found (2.98.3, $tmp/root/lib/libnccl.so.2, WEBSSL_NCCL_ROOT)") ;;
  *) echo "FAIL: WEBSSL_NCCL_ROOT was not used"; exit 1 ;;
esac
line=$(probe empty WEBSSL_NCCL_ROOT="$tmp/nothing")
echo "empty root:       $line"
[ "$line" = "nccl_probe: not found" ] || { echo "FAIL: an empty WEBSSL_NCCL_ROOT must not fall back"; exit 1; }
echo "PASS"
