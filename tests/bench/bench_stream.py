"""Throughput of `webssl-dist embed` over streamed shards against the same shards as local files.
A local HTTP server on 127.0.0.1 (tests/driver/stream_server.py) serves WebDataset tars of JPEG
photographs; the runs alternate within each round (local, http, pipe:cat) and the ratios printed
are medians over rounds of wall time / local wall time, and of CPU time (user + sys of the run's
processes, the server excluded) / local CPU time: on a busy machine wall times swing with the
load, CPU times show the work streaming adds. Then the read-ahead check: one shard whose
server answers only after `--late` seconds, among shards served at once, with --read-ahead 1 and 2
(interleaved): with 2, the other shards' batches are computed while the late one waits.
Prints the CPU model; on a shared machine the figures are noisy, the ratios less so.
usage: bench_stream.py [--bin webssl-dist] [--shards S] [--images N] [--rounds R] [--late SEC]"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "driver"))
from webssl_test import ENV, MPIRUN, tiny_model  # noqa: E402
from stream_server import Server  # noqa: E402


def make_shards(d, shards, per, seed=0):
    """`shards` tars of `per` JPEGs (400x300 smooth noise photographs-alike) each."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:300, 0:400]
    for s in range(shards):
        with tarfile.open(os.path.join(d, f"{s:04d}.tar"), "w", format=tarfile.USTAR_FORMAT) as t:
            for i in range(per):
                base = np.stack([x / 400, y / 300, (x + y) / 700], -1) * rng.uniform(100, 250)
                a = np.clip(base + rng.normal(0, 20, (300, 400, 3)), 0, 255).astype(np.uint8)
                p = os.path.join(d, "img.jpg")
                Image.fromarray(a).save(p, quality=90)
                t.add(p, arcname=f"{s:04d}_{i:05d}.jpg")
        os.remove(os.path.join(d, "img.jpg"))


def run(binary, model, spec, out, extra=()):
    cmd = MPIRUN + ["-np", "1", binary, "embed", "--model", model, "--input", spec, "--output", out,
                    "--batch", "16", "--preprocess", "crop", "--resize", "128", "--resolution", "112",
                    "--threads", "1", "--decode-threads", "1"] + list(extra)
    t0, c0 = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    dt = time.time() - t0, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{p.stderr}")
    subprocess.run(["rm", "-rf", out])
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "build/src/webssl-dist"))
    ap.add_argument("--shards", type=int, default=6)
    ap.add_argument("--images", type=int, default=96, help="images per shard")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--late", type=float, default=4.0)
    a = ap.parse_args()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} logical CPUs; one rank, --threads 1 --decode-threads 1")
    with tempfile.TemporaryDirectory() as w:
        tars = os.path.join(w, "tars")
        os.makedirs(tars)
        make_shards(tars, a.shards, a.images)
        model = os.path.join(w, "model")
        tiny_model("dino", model, C=192, L=6, NH=3, img=112)
        srv = Server(tars, late=a.late)
        last = f"{a.shards - 1:04d}"
        specs = {"local": os.path.join(tars, f"{{0000..{last}}}.tar"),
                 "http": srv.url + f"/ok/{{0000..{last}}}.tar",
                 "pipe:cat": "pipe:cat " + os.path.join(tars, f"{{0000..{last}}}.tar")}
        n = a.shards * a.images
        print(f"{a.shards} shards x {a.images} JPEGs 400x300 ({sum(os.path.getsize(os.path.join(tars, f)) for f in os.listdir(tars)) >> 20} MiB), "
              f"ViT C=192 L=6 at 112 px, batch 16")
        times = {k: [] for k in specs}
        for r in range(a.rounds):
            for k, spec in specs.items():
                times[k].append(run(a.bin, model, spec, os.path.join(w, "out")))
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.2f} s ({v[-1][1]:.2f} s CPU)"
                                                   for k, v in times.items()))
        for k in specs:
            wall = statistics.median(t[0] / l[0] for t, l in zip(times[k], times["local"]))
            cpu = statistics.median(t[1] / l[1] for t, l in zip(times[k], times["local"]))
            med = statistics.median(t[0] for t in times[k])
            print(f"{k:9s} median {med:6.2f} s  {n / med:7.1f} img/s  wall / local {wall:.3f}  CPU / local {cpu:.3f}")

        late = srv.url + f"/{{late/0000,ok/{{0001..{last}}}}}.tar"
        ra = {1: [], 2: []}
        for r in range(a.rounds):
            for k in ra:
                ra[k].append(run(a.bin, model, late, os.path.join(w, "out"), ["--read-ahead", str(k)]))
            print(f"  round {r + 1}: " + ", ".join(f"read-ahead {k} {v[-1][0]:.2f} s" for k, v in ra.items()))
        for k in ra:
            print(f"first shard {a.late:.1f} s late, --read-ahead {k}: median {statistics.median(t[0] for t in ra[k]):6.2f} s")
        print(f"read-ahead 2 / read-ahead 1 (wall): {statistics.median(x[0] / y[0] for x, y in zip(ra[2], ra[1])):.3f}; "
              f"read-ahead 2 minus the run without a late shard: {statistics.median(t[0] for t in ra[2]) - statistics.median(t[0] for t in times['http']):+.2f} s")
        srv.close()


if __name__ == "__main__":
    main()
