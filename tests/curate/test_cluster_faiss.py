"""`webssl-dist cluster` against faiss k-means (faiss-cpu, in its own test venv without torch):
  1. from the same initial centroids, 10 iterations: centroids equal to 1e-4 (cosine / spherical
     and L2, f16 rows on disk);
  2. each with its own initialisation (ours: rows drawn by the seed; faiss: its own seed), 25
     iterations: the final objective (sum over rows of the distance to the nearest centroid,
     computed here in float64 for both) within 0.5 %.
Usage: test_cluster_faiss.py WORKDIR (WEBSSL_BIN names the program)."""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import curate_data as cd  # noqa: E402

try:
    import faiss
except ImportError:
    print("SKIP: faiss is not installed in this Python (launch/install-deps makes .venv-faiss)")
    sys.exit(77)


def objective(x, c, metric):
    """Sum of distances to the nearest centroid (cosine: 1 - cos; L2: squared), float64."""
    x, c = x.astype(np.float64), c.astype(np.float64)
    if metric == "cosine":
        return float(np.sum(1.0 - np.max(x @ c.T, axis=1)))
    d = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
    return float(np.sum(np.maximum(d.min(1), 0)))


def main():
    work = cd.fresh_dir(sys.argv[1])
    faiss.omp_set_num_threads(1)
    n, d, k = 6000, 32, 20
    rng = np.random.default_rng(7)
    raw = rng.standard_normal((n, d)).astype(np.float32) + cd.mixture(n, d, 30, seed=3, spread=2.0)
    x16 = raw.astype(np.float16).astype(np.float32)   # what the program reads from the f16 file
    for metric in ("cosine", "l2"):
        xs = x16 / np.linalg.norm(x16, axis=1, keepdims=True) if metric == "cosine" else x16
        emb = os.path.join(work, f"emb-{metric}")
        cd.write_set(emb, raw, shards=3, dtype="f2")
        # 1. same initial centroids
        c0 = xs[rng.choice(n, k, replace=False)].copy()
        init = os.path.join(work, f"init-{metric}.h5")
        with h5py.File(init, "w") as f:
            f["centroids"] = c0
        out = os.path.join(work, f"same-{metric}")
        cd.run(["cluster", "--input", emb, "--output", out, "--k", str(k), "--metric", metric, "--iters", "10",
                "--max-per-centroid", "1000", "--init", init, "--quiet"])
        km = faiss.Kmeans(d, k, niter=10, spherical=metric == "cosine", max_points_per_centroid=1000,
                          min_points_per_centroid=1, seed=1234)
        km.train(xs, init_centroids=c0)
        cd.report(f"{metric}: centroids after 10 iterations from the same start vs faiss", cd.centroids(out),
                  km.centroids, 1e-4)
        # 2. own initialisation, objective
        out = os.path.join(work, f"own-{metric}")
        cd.run(["cluster", "--input", emb, "--output", out, "--k", str(k), "--metric", metric, "--iters", "25",
                "--quiet"])
        km = faiss.Kmeans(d, k, niter=25, spherical=metric == "cosine", seed=1234)
        km.train(xs)
        ours, ref = objective(xs, cd.centroids(out), metric), objective(xs, km.centroids, metric)
        rel = abs(ours - ref) / ref
        print(f"{metric}: objective ours {ours:.6g}, faiss {ref:.6g}, relative difference {rel:.3e} (tolerance 5e-3)")
        if not rel <= 5e-3:
            raise SystemExit(f"FAIL: {metric} objective differs from faiss by {rel:.3e}")
    print("OK")


if __name__ == "__main__":
    main()
