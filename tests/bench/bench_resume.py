"""Cost of resuming a finished run: `webssl-dist embed` over S shards (one small image each, a tiny
model), run once to finish every shard, then run again: the rerun checks every shard (its inputs'
manifest against the one stored in its file, datasets, dtypes, source) and skips it. Prints the
wall time of both runs and the rerun's time per shard, for tar shards (one stat per shard) and
for directory shards (`--shard-size`, one stat per member), with the CPU model.
usage: bench_resume.py [--bin webssl-dist] [--shards S] [--per-shard N] [--work DIR]"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "driver"))
from embed_common import make_images  # noqa: E402
from webssl_test import ENV, MPIRUN, tiny_model  # noqa: E402


def timed_embed(binary, model, inp, out, extra):
    cmd = MPIRUN + ["-np", "1", binary, "embed", "--model", model, "--input", inp, "--output", out,
                    "--batch", "8", "--preprocess", "square", "--resolution", "28"] + extra
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    summary = next((l for l in p.stderr.splitlines() if "summary: " in l and "shards" in l), "")
    return dt, summary.split("summary: ", 1)[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "build/src/webssl-dist"))
    ap.add_argument("--shards", type=int, default=10000)
    ap.add_argument("--per-shard", type=int, default=4, help="images per directory shard")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="bench-resume-")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"CPU: {cpu}; {os.cpu_count()} cores; {a.shards} shards")
    model = os.path.join(work, "dino")
    tiny_model("dino", model, C=48, NH=3)
    src = os.path.join(work, "src")
    make_images(src, 8)
    jpgs = sorted(os.path.join(src, n) for n in os.listdir(src))

    tars = os.path.join(work, "tars")
    os.makedirs(tars)
    for i in range(a.shards):
        with tarfile.open(os.path.join(tars, f"{i:06d}.tar"), "w") as tf:
            tf.add(jpgs[i % len(jpgs)], arcname=f"k{i:06d}.jpg")
    images = os.path.join(work, "images")
    os.makedirs(images)
    for i in range(a.shards * a.per_shard):
        os.link(jpgs[i % len(jpgs)], os.path.join(images, f"{i:07d}.jpg"))

    for kind, inp, extra in (("tar", os.path.join(tars, "*.tar"), []),
                             (f"directory ({a.per_shard} images/shard)", images, ["--shard-size", str(a.per_shard)])):
        out = os.path.join(work, "out-" + kind.split()[0])
        first, s1 = timed_embed(a.bin, model, inp, out, extra)
        again, s2 = timed_embed(a.bin, model, inp, out, extra)
        print(f"{kind}: first run {first:.1f} s ({s1})")
        print(f"{kind}: resume    {again:.1f} s ({s2}); {1e3 * again / a.shards:.2f} ms per shard")
    if not a.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
