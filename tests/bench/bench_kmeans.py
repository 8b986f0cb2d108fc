"""Curation speed, side by side: `webssl-dist cluster` against faiss k-means (faiss-cpu, run in
.venv-faiss) on the same rows and threads, in interleaved rounds, and the program's other stages.
  1. k-means iteration time per row, ours / faiss (one rank, --threads T; faiss on T OpenMP threads);
  2. the same on 2 ranks against 1 (T threads each): the data-parallel speed-up;
  3. assignment rows/s (the streaming pass over every shard) and dedup rows/s;
  4. --big: 10^6 rows x 1024 in f16 on disk, clustered and assigned, with the peak RSS per rank.
Prints the CPU model and the load average (the figures are ratios of interleaved rounds because
the machine may be shared). usage: .venv-faiss/bin/python bench_kmeans.py [--rows N] [--dim D]
[--k K] [--iters I] [--threads T] [--rounds R] [--big] [--work DIR]"""
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


def ours(emb, out, k, iters, threads, ranks, extra=()):
    """Run cluster; returns (train s per iteration, assign s, max RSS MB of a rank). The training time
    holds the iterations and one more assignment (the final counts and objective): counted against
    us, faiss's holds only the iterations."""
    cmd = [cd.MPIEXEC, "--oversubscribe", "--allow-run-as-root", "-n", str(ranks), "/usr/bin/time", "-f",
           "RSS %M", cd.BIN, "cluster", "--input", emb, "--output", out, "--k", str(k), "--iters", str(iters),
           "--threads", str(threads), "--quiet", *extra]
    p = subprocess.run(cmd, env=dict(cd.ENV, OMP_NUM_THREADS=str(threads)), capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-3000:]}")
    train = float(re.search(r"train ([0-9.]+) s", p.stdout).group(1))
    assign = float(re.search(r"assigned, ([0-9.]+) s", p.stdout).group(1))
    rss = max(int(v) for v in re.findall(r"RSS (\d+)", p.stderr)) / 1024
    return train / iters, assign, rss


def faiss_iter(x, k, iters, threads):
    import faiss
    faiss.omp_set_num_threads(threads)
    km = faiss.Kmeans(x.shape[1], k, niter=iters, max_points_per_centroid=10 ** 9, spherical=True, seed=1)
    t0 = time.perf_counter()
    km.train(x)
    return (time.perf_counter() - t0) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="10^6 x 1024 f16 instead of the comparisons")
    ap.add_argument("--work", default="/tmp/bench_kmeans")
    ap.add_argument("--coretype", default=None, help="OPENBLAS_CORETYPE for both sides (OpenBLAS picks its "
                    "Prescott kernels on CPUs it cannot name, e.g. some VMs; SkylakeX is the AVX-512 one)")
    a = ap.parse_args()
    if a.coretype:   # before faiss loads its OpenBLAS; the program gets it through the environment
        os.environ["OPENBLAS_CORETYPE"] = a.coretype
        cd.ENV["OPENBLAS_CORETYPE"] = a.coretype
    cd.BIN = cd.BIN or os.path.join(os.path.dirname(__file__), "..", "..", "build", "src", "webssl-dist")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} cores; OPENBLAS_CORETYPE={a.coretype or '(unset)'}; load average at "
          f"start {os.getloadavg()[0]:.1f}")
    work = cd.fresh_dir(a.work)
    if a.big:
        n, d, k = 10 ** 6, 1024, a.k
        emb = os.path.join(work, "emb")
        os.makedirs(emb)
        for s in range(20):   # 20 shards of 50000 rows, written one at a time
            x = cd.mixture(n // 20, d, 500, seed=s, spread=2.0)
            cd.write_shard(os.path.join(emb, f"big-{s:05d}.h5"), x, dtype="f2")
            del x
        it, asg, rss = ours(emb, os.path.join(work, "out"), k, a.iters, a.threads, 1)
        print(f"10^6 x 1024 f16, k {k}, {a.threads} thread(s): {it:.2f} s per iteration on {min(n, k * 256)} training "
              f"rows, assignment of 10^6 rows {asg:.1f} s ({n / asg:.0f} rows/s), peak RSS {rss:.0f} MB "
              f"(the rows alone: {n * d * 2 / 2**20:.0f} MB f16 on disk)")
        return
    x = cd.mixture(a.rows, a.dim, 100, seed=1, spread=2.0)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    emb = os.path.join(work, "emb")
    cd.write_set(emb, x, shards=8, dtype="f4")
    extra = ["--max-per-centroid", str(10 ** 6)]
    r_faiss, r_ranks, assign, rss = [], [], [], 0
    for r in range(a.rounds):
        o1, _, _ = ours(emb, cd.fresh_dir(os.path.join(work, "o1")), a.k, a.iters, a.threads, 1, extra)
        f1 = faiss_iter(xn, a.k, a.iters, a.threads)
        o2, asg, rss = ours(emb, cd.fresh_dir(os.path.join(work, "o2")), a.k, a.iters, a.threads, 2, extra)
        r_faiss.append(f1 / o1)
        r_ranks.append(o1 / o2)
        assign.append(a.rows / asg)
        print(f"round {r + 1}: per iteration ours {o1 * 1e3:.1f} ms, faiss {f1 * 1e3:.1f} ms, ours on 2 ranks "
              f"{o2 * 1e3:.1f} ms ({a.rows} rows x {a.dim}, k {a.k}, {a.threads} thread(s) per rank)")
    print(f"k-means iteration speed, ours vs faiss (faiss time / ours): median {statistics.median(r_faiss):.2f}x "
          f"({', '.join(f'{v:.2f}' for v in r_faiss)})")
    print(f"2 ranks vs 1: median {statistics.median(r_ranks):.2f}x ({', '.join(f'{v:.2f}' for v in r_ranks)})")
    print(f"assignment (2 ranks): median {statistics.median(assign):.0f} rows/s; peak RSS per rank {rss:.0f} MB")
    t0 = time.perf_counter()
    cd.run(["dedup", "--input", emb, "--clusters", os.path.join(work, "o1"), "--output", os.path.join(work, "dd"),
            "--eps", "0.01,0.05", "--threads", str(a.threads)], threads=a.threads)
    dt = time.perf_counter() - t0
    print(f"dedup (1 rank, including start-up and reading): {a.rows / dt:.0f} rows/s")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
