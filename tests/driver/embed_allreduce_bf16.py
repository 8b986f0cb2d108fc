"""`webssl-dist embed --tp 2 --allreduce bf16` against --allreduce f32 on the same tiny DINO model
and images: every CLS and patch-mean row must keep cosine >= 0.999 (the bf16 precision target of
the design), and the bf16 run must differ from the f32 one (the option takes effect). Then
`bench --tp 2 --allreduce bf16` runs and reports the option in its JSON. A build whose
row-parallel outputs are still f32 refuses the option: that is reported and the test skips (77).
usage: embed_allreduce_bf16.py WORKDIR"""
import json
import os
import subprocess
import sys

import numpy as np

from embed_common import BIN, ENV, MPIRUN, embed_cmd, make_images, read_shards, run_embed
from webssl_test import fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 6)
model_dir = os.path.join(work, "dino")
tiny_model("dino", model_dir, img=56)
common = ["--model", model_dir, "--input", imgs, "--batch", "3", "--shard-size", "6", "--preprocess", "square",
          "--resolution", "56", "--out-dtype", "f32", "--features", "cls,patch_mean"]

run_embed(2, common + ["--output", os.path.join(work, "f32")], tp=2)
cmd = embed_cmd(2, common + ["--output", os.path.join(work, "bf16"), "--allreduce", "bf16"], tp=2)
p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=170)
if p.returncode != 0 and "row-parallel outputs are f32" in p.stderr:
    why = [line for line in p.stderr.splitlines() if "row-parallel outputs are f32" in line]
    print("SKIP: this build refuses --allreduce bf16:", why[0].strip())
    sys.exit(77)
if p.returncode != 0:
    sys.stdout.write(p.stdout + p.stderr)
    raise SystemExit(f"FAIL: {' '.join(cmd)} exited {p.returncode}")

ref, _ = read_shards(os.path.join(work, "f32"))
got, _ = read_shards(os.path.join(work, "bf16"))
fails = 0
for ds in ("cls", "patch_mean"):
    a, b = ref[ds].astype(np.float64), got[ds].astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    diff = np.abs(a - b).max()
    ok = cos.min() >= 0.999 and diff > 0
    print(f"  {ds:12s} min cosine bf16 vs f32 {cos.min():.6f} (>= 0.999), max abs diff {diff:.3g} (> 0) "
          f"{'ok' if ok else 'FAIL'}")
    fails += not ok

bench_json = os.path.join(work, "bench.json")
bench = MPIRUN + ["-np", "2", BIN, "bench", "--arch", "tiny-dino", "--tp", "2", "--batch", "2", "--iters", "2",
                  "--allreduce", "bf16", "--json", bench_json]
p = subprocess.run(bench, env=ENV, capture_output=True, text=True, timeout=170)
if p.returncode != 0:
    sys.stdout.write(p.stdout + p.stderr)
    print("  bench --allreduce bf16 FAIL"); fails += 1
else:
    with open(bench_json) as f:
        rep = json.load(f)
    ok = rep.get("allreduce") == "bf16"
    print(f"  bench --tp 2 --allreduce bf16: {rep['images_per_second']:.1f} img/s, allreduce {rep.get('allreduce')} "
          f"{'ok' if ok else 'FAIL'}")
    fails += not ok
print("embed allreduce bf16:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
