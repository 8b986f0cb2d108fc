"""Curation speed, side by side, in interleaved rounds (the machine may be shared: ratios of rounds
run next to each other, with the CPU model and the load average printed):
  default: a k-means iteration per row, `webssl-dist cluster` on one rank with T threads against
      faiss k-means (faiss-cpu, run in .venv-faiss) on T OpenMP threads, for each T of --threads;
      `--base BIN` adds another build of the program (e.g. before a change) to the rounds; then the
      assignment rows/s (2 ranks) and the dedup rows/s.
  --ranks: 2 ranks of one thread each against 1 rank of one thread (no faiss): the data-parallel
      speed-up of an iteration; needs an idle machine with 2 free cores for a figure that means
      anything. --launcher srun runs the ranks with srun (inside an allocation) instead of mpirun.
  --big: 10^6 rows x 1024 in f16 on disk, clustered and assigned, with the peak RSS per rank.
Per iteration: ours is the training wall time that `cluster` prints over the iterations (rows in
memory, per-iteration checkpoints included), faiss's the time of Kmeans.train on a NumPy array
over its iterations; figures in training rows per second per iteration.
OpenBLAS kernels: Debian's OpenBLAS 0.3.21 and the one inside faiss-cpu's wheel fall back to their
SSE3 'Prescott' kernels on CPUs they cannot name (e.g. some VMs); the program sets
OPENBLAS_CORETYPE itself (src/backend/cpu/blas_core.c), and this script sets it for faiss before
faiss loads (SkylakeX on AVX-512 CPUs, Haswell on AVX2 ones; --coretype overrides, for both), so
both sides run the same kernels.
usage: .venv-faiss/bin/python tests/bench/bench_kmeans.py [--rows N] [--dim D] [--k K] [--iters I]
[--threads 1,2] [--rounds R] [--base BIN] [--ranks [--launcher mpirun|srun]] [--big] [--work DIR]"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "curate"))
import curate_data as cd  # noqa: E402


def cpu_flags():
    return next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])


def default_coretype():
    """The OpenBLAS kernel set the program picks for itself on this CPU (blas_core.c)."""
    f = set(cpu_flags())
    if {"avx2", "fma"} <= f:
        return "SkylakeX" if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= f else "Haswell"
    return None


def launch(a, ranks, threads):
    if a.launcher == "srun":
        return ["srun", "--mpi=pmix", "-n", str(ranks), "--cpus-per-task", str(threads), "--cpu-bind=cores"]
    # --bind-to none: mpirun binds each of up to 2 ranks to one core, its T threads with it
    return [cd.MPIEXEC, "--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-n", str(ranks)]


def ours(a, binary, emb, out, threads, ranks, extra=()):
    """Run cluster; returns (train s per iteration, assign s, max RSS MB of a rank)."""
    cmd = launch(a, ranks, threads) + ["/usr/bin/time", "-f", "RSS %M", binary, "cluster", "--input", emb,
                                       "--output", cd.fresh_dir(out), "--k", str(a.k), "--iters", str(a.iters),
                                       "--threads", str(threads), "--quiet", *extra]
    p = subprocess.run(cmd, env=dict(cd.ENV, OMP_NUM_THREADS=str(threads)), capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-3000:]}")
    train = float(re.search(r"train ([0-9.]+) s", p.stdout).group(1))
    assign = float(re.search(r"assigned, ([0-9.]+) s", p.stdout).group(1))
    rss = max(int(v) for v in re.findall(r"RSS (\d+)", p.stderr)) / 1024
    return train / a.iters, assign, rss


def faiss_iter(x, k, iters, threads):
    import faiss
    faiss.omp_set_num_threads(threads)
    km = faiss.Kmeans(x.shape[1], k, niter=iters, max_points_per_centroid=10 ** 9, spherical=True, seed=1)
    t0 = time.perf_counter()
    km.train(x)
    return (time.perf_counter() - t0) / iters


def med(v):
    return f"median {statistics.median(v):.2f}x ({', '.join(f'{r:.2f}' for r in v)})"


def big(a, work):
    n, d = 10 ** 6, 1024
    emb = os.path.join(work, "emb")
    os.makedirs(emb)
    for s in range(20):   # 20 shards of 50000 rows, written one at a time
        x = cd.mixture(n // 20, d, 500, seed=s, spread=2.0)
        cd.write_shard(os.path.join(emb, f"big-{s:05d}.h5"), x, dtype="f2")
        del x
    t = a.threads[0]
    it, asg, rss = ours(a, cd.BIN, emb, os.path.join(work, "out"), t, 1)
    print(f"10^6 x 1024 f16, k {a.k}, {t} thread(s): {it:.2f} s per iteration on {min(n, a.k * 256)} training "
          f"rows, assignment of 10^6 rows {asg:.1f} s ({n / asg:.0f} rows/s), peak RSS {rss:.0f} MB "
          f"(the rows alone: {n * d * 2 / 2**20:.0f} MB f16 on disk)")


def ranks(a, emb, work):
    """2 ranks x 1 thread against 1 rank x 1 thread, interleaved (the order alternates by round)."""
    extra = ["--max-per-centroid", str(10 ** 6)]
    ratios = []
    for r in range(a.rounds):
        t = {}
        for w in ((1, 2) if r % 2 == 0 else (2, 1)):
            t[w], _, _ = ours(a, cd.BIN, emb, os.path.join(work, f"r{w}"), 1, w, extra)
        ratios.append(t[1] / t[2])
        print(f"round {r + 1}: per iteration 1 rank {t[1] * 1e3:.1f} ms ({a.rows / t[1]:.0f} rows/s), 2 ranks "
              f"{t[2] * 1e3:.1f} ms ({a.rows / t[2]:.0f} rows/s); {a.rows} rows x {a.dim}, k {a.k}, 1 thread per "
              f"rank, {a.launcher}")
    print(f"2 ranks vs 1 (time of 1 rank / time of 2): {med(ratios)}")


def versus_faiss(a, x, emb, work):
    """Ours (and --base) against faiss per thread count, interleaved; then assignment and dedup."""
    import faiss  # noqa: F401  (loaded now, after OPENBLAS_CORETYPE is set)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    extra = ["--max-per-centroid", str(10 ** 6)]
    assign, rss = [], 0
    for t in a.threads:
        vs_faiss, vs_base = [], []
        for r in range(a.rounds):   # the order of the sides alternates by round
            run = {"ours": lambda: ours(a, cd.BIN, emb, os.path.join(work, "o1"), t, 1, extra)[0],
                   "faiss": lambda: faiss_iter(xn, a.k, a.iters, t),
                   "base": lambda: ours(a, a.base, emb, os.path.join(work, "ob"), t, 1, extra)[0] if a.base else None}
            got = {side: run[side]() for side in (run if r % 2 == 0 else reversed(list(run)))}
            o, f, b = got["ours"], got["faiss"], got["base"]
            vs_faiss.append(f / o)
            if b:
                vs_base.append(b / o)
            print(f"{t} thread(s), round {r + 1}: per iteration ours {o * 1e3:.1f} ms ({a.rows / o:.0f} rows/s), "
                  f"faiss {f * 1e3:.1f} ms ({a.rows / f:.0f} rows/s)" +
                  (f", base {b * 1e3:.1f} ms" if b else "") + f"; {a.rows} rows x {a.dim}, k {a.k}")
        print(f"{t} thread(s): ours vs faiss (faiss time / ours): {med(vs_faiss)}")
        if vs_base:
            print(f"{t} thread(s): ours vs base (base time / ours): {med(vs_base)}")
    for r in range(a.rounds):
        _, asg, rss = ours(a, cd.BIN, emb, os.path.join(work, "o2"), 1, 2, extra)
        assign.append(a.rows / asg)
    print(f"assignment (2 ranks x 1 thread, reading f32 shards and writing the files): median "
          f"{statistics.median(assign):.0f} rows/s; peak RSS per rank {rss:.0f} MB")
    t0 = time.perf_counter()
    cd.run(["dedup", "--input", emb, "--clusters", os.path.join(work, "o1"), "--output", os.path.join(work, "dd"),
            "--eps", "0.01,0.05", "--threads", "1"], threads=1)
    print(f"dedup (1 rank, 1 thread, including start-up and reading): {a.rows / (time.perf_counter() - t0):.0f} rows/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", default=None, help="another webssl-dist binary to add to the rounds against faiss")
    ap.add_argument("--ranks", action="store_true", help="2 ranks x 1 thread vs 1 rank x 1 thread (no faiss)")
    ap.add_argument("--launcher", choices=("mpirun", "srun"), default="mpirun")
    ap.add_argument("--big", action="store_true", help="10^6 x 1024 f16 instead of the comparisons")
    ap.add_argument("--work", default="/tmp/bench_kmeans")
    ap.add_argument("--coretype", default=default_coretype(), help="OPENBLAS_CORETYPE for both sides (default: "
                    "SkylakeX with AVX-512, Haswell with AVX2, as the program picks)")
    a = ap.parse_args()
    a.threads = [int(t) for t in a.threads.split(",")]
    if a.coretype:   # before faiss loads its OpenBLAS; the program gets it through the environment
        os.environ["OPENBLAS_CORETYPE"] = a.coretype
        cd.ENV["OPENBLAS_CORETYPE"] = a.coretype
    cd.BIN = cd.BIN or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "src",
                                    "webssl-dist")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    simd = " ".join(f for f in cpu_flags() if f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"))
    print(f"CPU: {cpu} ({simd}), {os.cpu_count()} cores; OPENBLAS_CORETYPE={a.coretype or '(unset)'} for both "
          f"sides; load average at start {os.getloadavg()[0]:.1f}")
    work = cd.fresh_dir(a.work)
    if a.big:
        big(a, work)
        return
    x = cd.mixture(a.rows, a.dim, 100, seed=1, spread=2.0)
    emb = os.path.join(work, "emb")
    cd.write_set(emb, x, shards=8, dtype="f4")
    if a.ranks:
        ranks(a, emb, work)
    else:
        versus_faiss(a, x, emb, work)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
