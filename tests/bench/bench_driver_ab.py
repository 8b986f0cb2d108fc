"""A/B timing of two webssl-dist binaries on the paths the driver sets up: `bench` on one rank
(dino300m shape, random weights), `bench` with tp 2 under mpirun (tiny shape: setup and
all-reduces weigh most), and `embed` of the quick-start model over a few hundred sample images
with 2 data-parallel ranks (wall time, start-up included). Runs are interleaved (A B, then B A)
so drift on a shared machine hits both; prints per-case medians and the ratio new / base.

    python tests/bench/bench_driver_ab.py --base OLD/webssl-dist --new build/src/webssl-dist \
        --work /tmp/ab [--rounds 3]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPIRUN = [os.environ.get("WEBSSL_MPIEXEC", "mpirun"), "--oversubscribe", "--allow-run-as-root"]


def run(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return p.stdout + p.stderr, dt


def seconds_per_batch(out):
    m = re.search(r"([0-9.]+) s/batch", out)
    if not m:
        sys.exit("no 's/batch' in bench output:\n" + out)
    return float(m.group(1))


def prepare(work):
    sample = os.path.join(work, "sample")
    if not os.path.isdir(os.path.join(sample, "model")):
        subprocess.run([sys.executable, os.path.join(ROOT, "launch", "make-sample.py"), sample], check=True)
    many = os.path.join(work, "images")
    if not os.path.isdir(many):
        os.makedirs(many)
        src = sorted(os.listdir(os.path.join(sample, "images")))
        for k in range(max(1, 240 // len(src))):
            for f in src:
                shutil.copy(os.path.join(sample, "images", f), os.path.join(many, f"{k:03d}_{f}"))
    return os.path.join(sample, "model"), many


def cases(binary, model, images, work, tag):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out_dir = os.path.join(work, f"out_{tag}")
    shutil.rmtree(out_dir, ignore_errors=True)
    res = {}
    out, _ = run([binary, "bench", "--arch", "webssl-dino300m-full2b-224", "--batch", "2", "--iters", "2",
                  "--warmup", "1", "--threads", "2"])
    res["bench dino300m tp1 (s/batch)"] = seconds_per_batch(out)
    out, _ = run(MPIRUN + ["-np", "2", binary, "bench", "--arch", os.path.join(ROOT, "configs", "tiny-dino.yaml"),
                           "--tp", "2", "--batch", "8", "--iters", "200"], env)
    res["bench tiny tp2 (s/batch)"] = seconds_per_batch(out)
    _, dt = run(MPIRUN + ["-np", "2", binary, "embed", "--model", model, "--input", images, "--output", out_dir,
                          "--shard-size", "40", "--batch", "8", "--threads", "1"], env)
    res["embed tiny dp2, 240 images (s wall)"] = dt
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model, images = prepare(a.work)
    got = {"base": [], "new": []}
    for r in range(a.rounds):
        order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
        for tag in order:
            got[tag].append(cases(getattr(a, tag), model, images, a.work, tag))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} cores; {a.rounds} interleaved rounds, medians")
    print(f"{'case':40s} {'base':>10s} {'new':>10s} {'new/base':>9s}")
    for k in got["base"][0]:
        b = statistics.median(x[k] for x in got["base"])
        n = statistics.median(x[k] for x in got["new"])
        print(f"{k:40s} {b:10.4f} {n:10.4f} {n / b:9.3f}")


if __name__ == "__main__":
    main()
