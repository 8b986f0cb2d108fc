"""Cost of resuming a finished run: `webssl-dist embed` over S shards (one small image each, a tiny
model), run once to finish every shard, then run again: the rerun checks every shard (its inputs'
manifest against the one stored in its file, datasets, dtypes, source) and skips it. Prints the
wall time of both runs and the rerun's time per shard, for tar shards (one stat per shard) and
for directory shards (`--shard-size`, one stat per member), with the CPU model. Given several
`--bin` (e.g. a build before and after a change), each writes its own output directory, then the
reruns alternate between them for `--rounds` rounds, so a busy machine slows each alike, and the
ratio of their median rerun times is printed.
usage: bench_resume.py [--bin webssl-dist ...] [--shards S] [--per-shard N] [--rounds R] [--work DIR]"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import statistics
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
    ap.add_argument("--bin", action="append", help="webssl-dist to time; repeat to compare builds "
                    "[$WEBSSL_BIN or build/src/webssl-dist]")
    ap.add_argument("--shards", type=int, default=10000)
    ap.add_argument("--per-shard", type=int, default=4, help="images per directory shard")
    ap.add_argument("--rounds", type=int, default=1, help="reruns per binary, interleaved")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    bins = a.bin or [os.environ.get("WEBSSL_BIN", "build/src/webssl-dist")]
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
        outs = [os.path.join(work, f"out-{kind.split()[0]}-{b}") for b in range(len(bins))]
        for b, binary in enumerate(bins):
            first, s1 = timed_embed(binary, model, inp, outs[b], extra)
            print(f"{kind}: [{binary}] first run {first:.1f} s ({s1})")
        times = [[] for _ in bins]
        for r in range(a.rounds):
            for b, binary in enumerate(bins):
                again, s2 = timed_embed(binary, model, inp, outs[b], extra)
                times[b].append(again)
                print(f"{kind}: [{binary}] resume round {r + 1} {again:.1f} s ({s2}); "
                      f"{1e3 * again / a.shards:.2f} ms per shard", flush=True)
        med = [statistics.median(t) for t in times]
        for b, binary in enumerate(bins):
            print(f"{kind}: [{binary}] median resume {med[b]:.1f} s, {1e3 * med[b] / a.shards:.2f} ms per shard"
                  + (f", {med[b] / med[0]:.2f}x the first binary" if b else ""))
    if not a.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
