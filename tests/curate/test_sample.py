"""`webssl-dist sample` (hierarchical balanced sampling, Vo et al. 2024) on a long-tailed set: one
concept holds 70 % of the rows, 30 small concepts the rest. After `cluster --k 60,10`:
  1. exactly --target rows, no row twice, keys and rows consistent with the assignment files;
  2. the split rule at every node: the top clusters and, inside each, its children get
     min(size, x) or x + 1 rows with x the largest equal share that fits (checked against the
     counts recomputed here from the files);
  3. --strategy closest takes, in each level-1 cluster, the rows nearest to its centroid;
  4. the dominant concept's share drops from 70 % to far less (printed), the point of the method;
  5. a target above the row count takes every assigned row; a flat clustering (one level) works.
Usage: test_sample.py WORKDIR."""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import curate_data as cd  # noqa: E402


def split_ok(sizes, got, target):
    """got follows the split rule for sizes and target."""
    sizes, got = np.asarray(sizes), np.asarray(got)
    want = min(target, sizes.sum())
    if got.sum() != want or np.any(got > sizes):
        return False
    if sizes.sum() <= target:
        return np.array_equal(got, sizes)
    x = max(v for v in range(int(sizes.max()) + 1) if np.minimum(sizes, v).sum() <= target)
    base = np.minimum(sizes, x)
    extra = got - base
    return set(np.unique(extra)) <= {0, 1} and np.all(sizes[extra == 1] > x)


def sample(cl, out, target, extra=()):
    cd.run(["sample", "--clusters", cl, "--target", str(target), "--output", out, *extra])
    with h5py.File(out) as f:
        return {k: f[k][:] for k in ("key", "shard", "row", "cluster")}


def main():
    work = cd.fresh_dir(sys.argv[1])
    rng = np.random.default_rng(5)
    d, n = 32, 6000
    centers = rng.standard_normal((31, d))
    concept = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 31, n))
    x = (centers[concept] + 0.8 * rng.standard_normal((n, d))).astype(np.float32)
    emb = os.path.join(work, "emb")
    cd.write_set(emb, x, shards=3, dtype="f4")
    cl = os.path.join(work, "cl")
    cd.run(["cluster", "--input", emb, "--output", cl, "--k", "60,10", "--iters", "15", "--quiet"], ranks=2)
    a = cd.read_assign(cl)
    with h5py.File(os.path.join(cl, "level2.h5")) as f:
        parent = f["parent"][:]
    size1 = np.bincount(a["cluster"][a["cluster"] >= 0], minlength=60)
    size2 = np.bincount(parent, weights=size1, minlength=10).astype(int)
    target = 1200
    s = sample(cl, os.path.join(work, "s.h5"), target)
    gid_of = {k: i for i, k in enumerate(a["key"])}
    gids = np.array([gid_of[k.decode() if isinstance(k, bytes) else k] for k in s["key"]])
    assert len(gids) == target and len(np.unique(gids)) == target, "not exactly target distinct rows"
    assert np.array_equal(a["cluster"][gids], s["cluster"])
    got1 = np.bincount(s["cluster"], minlength=60)
    got2 = np.bincount(parent[s["cluster"]], minlength=10)
    if not split_ok(size2, got2, target):
        raise SystemExit(f"FAIL: top level split {got2.tolist()} of sizes {size2.tolist()}")
    for c in range(10):
        ch = np.where(parent == c)[0]
        if not split_ok(size1[ch], got1[ch], got2[c]):
            raise SystemExit(f"FAIL: split inside top cluster {c}: {got1[ch].tolist()} of {size1[ch].tolist()}")
    print(f"top-level sizes {size2.tolist()} -> sampled {got2.tolist()}: the split rule holds at every node")
    share = np.mean(concept[gids] == 0)
    print(f"dominant concept: {np.mean(concept == 0):.1%} of the rows, {share:.1%} of the sample")
    if not share < 0.5:
        raise SystemExit("FAIL: sampling did not rebalance the dominant concept")
    txt = open(os.path.join(work, "s.txt")).read().split("\n")[:-1]
    assert txt == [k.decode() if isinstance(k, bytes) else k for k in s["key"]]
    c = sample(cl, os.path.join(work, "c.h5"), target, ["--strategy", "closest"])
    cg = np.array([gid_of[k.decode() if isinstance(k, bytes) else k] for k in c["key"]])
    sel = np.zeros(len(a["key"]), bool)
    sel[cg] = True
    for k in range(60):
        m = a["cluster"] == k
        if sel[m].any() and (~sel[m]).any() and a["distance"][m & sel].max() > a["distance"][m & ~sel].min():
            raise SystemExit(f"FAIL: closest: cluster {k} skipped a nearer row")
    print("closest: every level-1 cluster gave its nearest rows")
    allr = sample(cl, os.path.join(work, "all.h5"), 10 ** 6)
    assert len(allr["key"]) == np.sum(a["cluster"] >= 0)
    flat = os.path.join(work, "flat")
    cd.run(["cluster", "--input", emb, "--output", flat, "--k", "20", "--quiet"])
    f1 = sample(flat, os.path.join(work, "f.h5"), 500)
    af = cd.read_assign(flat)
    if not split_ok(np.bincount(af["cluster"], minlength=20), np.bincount(f1["cluster"], minlength=20), 500):
        raise SystemExit("FAIL: flat sampling split")
    print("target above the rows: all taken; flat clustering: balanced split")
    print("OK")


if __name__ == "__main__":
    main()
