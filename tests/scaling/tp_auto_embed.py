"""`webssl-dist embed --tp auto` under mpirun with 2 ranks on a tiny transformers Dinov2 model:
the run says what it picked and why, its features equal those of an explicit --tp 1 run (max abs
difference printed, must be 0: same arithmetic), and a batch no tp can hold stops with exit
status 1 and a message naming --tp auto and the memory needed. Then launch/scaling-study's embed
mode on the same model (tp 1 and 2): one ok row each, the run's image count, and all-reduce time
exactly at tp 2."""
import csv
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ["WEBSSL_SOURCE_DIR"], "tests", "driver"))
from embed_common import make_images  # noqa: E402
from webssl_test import BIN, ENV, MPIEXEC, tiny_model  # noqa: E402  (put on sys.path by embed_common)


def embed(tp, out, extra=()):
    cmd = [MPIEXEC, "-np", "2", BIN, "embed", "--model", "model", "--input", "imgs", "--output", out,
           "--tp", tp, "--batch", "2", "--threads", "1", *extra]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)


def features(out):
    (name,) = [f for f in os.listdir(out) if f.endswith(".h5")]
    with h5py.File(os.path.join(out, name)) as f:
        return {k: f[k][...] for k in ("cls", "patch_mean")}


for d in ("model", "imgs", "out_auto", "out_tp1", "out_big", "study"):
    shutil.rmtree(d, ignore_errors=True)
tiny_model("dino", "model")
make_images("imgs", 6)

r = embed("auto", "out_auto")
print(r.stderr[-1500:])
assert r.returncode == 0, f"embed --tp auto failed ({r.returncode})"
line = next((l for l in r.stderr.splitlines() if "--tp auto" in l), "")
assert "tp 1:" in line and "fit in" in line, f"no --tp auto explanation in the log: {line!r}"
assert "dp 2 x tp 1" in r.stderr, "the layout does not show the picked tp"

r1 = embed("1", "out_tp1")
assert r1.returncode == 0, r1.stderr[-1500:]
a, b = features("out_auto"), features("out_tp1")
for k in a:
    err = float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64))))
    print(f"{k}: max abs diff --tp auto vs --tp 1: {err:.3g} (tolerance 0)")
    assert err == 0.0

# 65536 images of 80 x 80 patches cannot fit any rank: a clear error, no hang.
r = embed("auto", "out_big", ["--resolution", "1120", "--batch", "65536"])
print(r.stderr[-800:])
assert r.returncode == 1, f"expected exit status 1, got {r.returncode}"
assert "--tp auto" in r.stderr and "does not fit" in r.stderr
print("embed --tp auto: ok")

study = subprocess.run([sys.executable, os.path.join(os.environ["WEBSSL_SOURCE_DIR"], "launch", "scaling-study"),
                        "--bin", BIN, "--out", "study", "--arch", "tiny-dino", "--embed-model", "model",
                        "--embed-input", "imgs", "--no-bench", "--tp", "1,2", "--batch", "2", "--threads", "1"],
                       env=ENV, capture_output=True, text=True, timeout=120)
print(study.stdout[-1000:], study.stderr[-1000:])
assert study.returncode == 0
rows = list(csv.DictReader(open(os.path.join("study", "runs.csv"))))
assert [(r["kind"], r["tp"], r["status"]) for r in rows] == [("embed", "1", "ok"), ("embed", "2", "ok")], rows
for r in rows:
    assert r["images"] == "6" and float(r["img_per_s"]) > 0 and float(r["peak_mem_mib_rank"]) > 0, r
    assert (float(r["comm_s"]) > 0) == (r["tp"] == "2"), r
print("scaling-study embed runs: ok")
