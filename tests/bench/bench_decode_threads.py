"""How throughput grows with --decode-threads on small images: a directory of N photo-like 256-px
JPEGs (bench_decode.make_corpus), --decode-threads 1 and 2, in interleaved rounds:
  - decode only (the model's share taken out): the pipeline with a consumer that does nothing
    (tests/bench/bench_pipeline.c, built next to the program: build/tests/bench/bench_pipeline);
  - `embed` of binaries A and B (e.g. before and after a change) with a small random-weight ViT on
    the CPU backend (one compute thread; input 56 px by default, so that decoding, not the model,
    is most of the work): images/s over the run less its start-up (a run over one image), and
    from --stats the leader's seconds in decoding (summed over the decode threads), waiting for
    input, in the forward pass and in writing: the model's share.
On N cores, decode only should reach close to N times one thread at N threads; embed on the CPU
backend also runs the forward pass on those cores (on a GPU node it runs on the GPU).
usage: bench_decode_threads.py --bin B [--base A] [--pipeline P] [--images 2000] [--rounds 3]"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from bench_decode import make_corpus  # noqa: E402
from webssl_test import ENV, tiny_model  # noqa: E402


def embed(binary, model, inp, out, threads, stats, res):
    shutil.rmtree(out, ignore_errors=True)
    if os.path.exists(stats):
        os.unlink(stats)
    cmd = [binary, "embed", "--model", model, "--input", inp, "--output", out, "--decode-threads", str(threads),
           "--threads", "1", "--resolution", str(res), "--shard-size", "500", "--stats", stats]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)
    wall = time.monotonic() - t0
    tot = [json.loads(l) for l in open(stats) if '"total"' in l][0]
    return wall, tot


def decode_only(pipeline, inp, threads, res):
    p = subprocess.run([pipeline, inp, str(threads), str(res), "32", "500"], check=True, capture_output=True,
                       text=True, env=ENV)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--base", default=None)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--resolution", type=int, default=56, help="model input side (small: the model's share small)")
    ap.add_argument("--pipeline", default=None, help="bench_pipeline binary [next to --bin's build]")
    a = ap.parse_args()
    if not a.pipeline:   # the build tree of --bin (BUILD/src/webssl-dist): BUILD/tests/bench/bench_pipeline
        here = os.path.dirname(os.path.abspath(a.bin))
        a.pipeline = next((p for p in (os.path.join(d, "tests", "bench", "bench_pipeline") for d in
                                       (here, os.path.dirname(here))) if os.path.exists(p)), None)
        if not a.pipeline:
            ap.error("bench_pipeline not found next to --bin: give --pipeline")
    work = tempfile.mkdtemp(prefix="bench_dthreads_")
    model = os.path.join(work, "vit")
    tiny_model("dino", model, C=48, L=2, NH=3, img=224)
    inp = os.path.join(work, "imgs")
    make_corpus(inp, a.images, [256])
    one = os.path.join(work, "one")
    make_corpus(one, 1, [256])
    bins = {"B": a.bin} if not a.base else {"A": a.base, "B": a.bin}
    res = {(b, t): [] for b in bins for t in (1, 2)}
    dec = {1: [], 2: []}
    for _ in range(a.rounds):
        for t in (1, 2):
            dec[t].append(decode_only(a.pipeline, inp + "/", t, a.resolution))
            print(f"decode only, {t} thread(s): {dec[t][-1]['images_per_s']:.0f} images/s", flush=True)
        for b, path in bins.items():
            start, _ = embed(path, model, one + "/", os.path.join(work, "out1"), 1, os.path.join(work, "s1.jsonl"),
                             a.resolution)
            for t in (1, 2):
                wall, tot = embed(path, model, inp + "/", os.path.join(work, "out"), t, os.path.join(work, "s.jsonl"),
                                  a.resolution)
                res[b, t].append((tot["images"] / max(wall - start, 1e-3), tot))
                print(f"{b} {t} thread(s): {res[b, t][-1][0]:.0f} images/s, {wall:.1f} s, start-up {start:.1f} s",
                      flush=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"{a.images} JPEGs of 256 px, model input {a.resolution} px, {a.rounds} interleaved rounds; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores ({cpu})")
    print("| decode only | decode threads | images/s (median) | 2 threads / 1 (median of rounds) | decode s |")
    print("|---|---|---|---|---|")
    for t in (1, 2):
        ratio = float(np.median([x2["images_per_s"] / x1["images_per_s"] for x1, x2 in zip(dec[1], dec[2])]))
        print(f"| pipeline | {t} | {np.median([x['images_per_s'] for x in dec[t]]):.0f} | {ratio:.2f}x | "
              f"{np.median([x['decode_s'] for x in dec[t]]):.2f} |")
    print()
    print("| binary | decode threads | images/s (median) | 2 threads / 1 (median of rounds) | decode s | input wait s | compute s | write s |")
    print("|---|---|---|---|---|---|---|---|")
    for b in bins:
        for t in (1, 2):
            v = res[b, t]
            med = lambda k: float(np.median([x[1][k] for x in v]))  # noqa: E731
            ratio = float(np.median([x2[0] / x1[0] for x1, x2 in zip(res[b, 1], res[b, 2])]))
            print(f"| {b} | {t} | {np.median([x[0] for x in v]):.0f} | {ratio:.2f}x | {med('decode'):.2f} | "
                  f"{med('input_wait'):.2f} | {med('compute'):.2f} | {med('write'):.2f} |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
