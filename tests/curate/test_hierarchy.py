"""Hierarchical k-means with resampling and hierarchical balanced sampling (Vo et al. 2024,
"Automatic Data Curation for Self-Supervised Learning: A Clustering-Based Approach", section 4)
against a NumPy implementation of the paper's two algorithms written here from the paper, with
the program's random draws (splitmix64, reproduced below) so both start from the same
initialisation:
  - levels >= 2: Euclidean k-means with a k-means++ start (greedy, 2 + floor(ln k) candidates),
    50 Lloyd steps (an empty cluster keeps its centroid), then 10 resampling steps: the r points
    of each cluster closest to its centroid, a fresh k-means on their union, every point
    reassigned; r = ceil(k_(L-1) / (2 k_L)); also other steps, r and Lloyd steps, r points
    drawn at random (--resample-from random) and no resampling. Checked: the same parent of every
    node at every level, centroids within 1e-6 (stored as f32; both sides compute in float64);
  - sampling: the target split as evenly as the sizes allow at the top, then recursively inside
    each cluster, random or closest rows in the level-1 clusters. Checked: the same selected keys.
Also: 1, 2 and 4 ranks write the same level files bit for bit, and on a planted imbalanced set
(3 concepts of many near-copies hold 80 % of the rows, 60 small concepts the rest) the sample
is measurably more balanced than a uniform random sample of the same size: the normalised
entropy of its concept histogram (H / ln 63, 1 = every concept equally often) is higher by at
least 0.2 and the 3 large concepts' share is at most half of theirs in the uniform sample.
The released code needs PyTorch, absent here: it is not run.
Usage: test_hierarchy.py WORKDIR."""
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import curate_data as cd  # noqa: E402

M64 = (1 << 64) - 1
SEED = 1234
SALT = 0x6b6d70706c76   # the program's HIERARCHY_SEED_SALT (src/curate/hierarchy.h)


class Rng:
    """splitmix64, as the program's km_rand / km_rand_unit."""

    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9e3779b97f4a7c15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        return z ^ (z >> 31)

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53


def level_seed(level, step):
    return SEED ^ (level << 48) ^ (step << 32) ^ SALT


# ---- the paper's hierarchical k-means with resampling ----

def assign(x, c):
    """Nearest centroid and squared L2 distance (|x|^2 - 2 x.c + |c|^2, first index on ties)."""
    d = (x * x).sum(1)[:, None] - 2.0 * (x @ c.T) + (c * c).sum(1)[None, :]
    i = d.argmin(1)
    return i, d[np.arange(len(x)), i]


def kmeans_pp(x, k, rng):
    """k-means++ with greedy local trials: each next centre is the best of 2 + floor(ln k) points
    drawn with probability proportional to the squared distance to the nearest centre so far."""
    n = len(x)
    trials = 2 + int(math.floor(math.log(k)))
    first = rng.next() % n
    centres = [first]
    closest = ((x - x[first]) ** 2).sum(1)
    pot = closest.sum()
    for _ in range(1, k):
        cum = np.cumsum(closest)
        best = None
        for _t in range(trials):
            p = min(int(np.searchsorted(cum, rng.unit() * pot, side="left")), n - 1)
            cand = np.minimum(closest, ((x - x[p]) ** 2).sum(1))
            if best is None or cand.sum() < best[0]:
                best = (cand.sum(), p, cand)
        pot, p, closest = best
        centres.append(p)
    return x[centres].copy()


def kmeans(x, k, iters, rng):
    c = kmeans_pp(x, k, rng)
    a, _ = assign(x, c)
    for it in range(iters):
        for j in range(k):
            if np.any(a == j):
                c[j] = x[a == j].mean(0)
        if it + 1 < iters:
            a, _ = assign(x, c)
    return c


def level_reference(x, k, level, r, steps=10, iters=50, random=False):
    """One level: k-means, then `steps` times k-means on the r closest (or random) points of each
    cluster; the random draws: a partial Fisher-Yates per cluster, clusters in index order."""
    c = kmeans(x, k, iters, Rng(level_seed(level, 0)))
    a, d = assign(x, c)
    for step in range(1, steps + 1 if r > 1 else 1):
        keep, rng = [], Rng(level_seed(level, step) ^ 0x7273)
        for j in range(k):
            m = np.where(a == j)[0]
            if random:
                m = list(m)
                for i in range(min(r, len(m))):
                    t = i + rng.next() % (len(m) - i)
                    m[i], m[t] = m[t], m[i]
                keep += m[:r]
            else:
                keep += list(m[np.lexsort((m, d[m]))][:r])
        keep = np.sort(np.array(keep, int))
        if len(keep) < k:
            break
        c = kmeans(x[keep], k, iters, Rng(level_seed(level, step)))
        a, d = assign(x, c)
    return c, a


# ---- the paper's hierarchical balanced sampling ----

def split(sizes, target, rng):
    """As even a split of target over groups of `sizes` as they allow: the largest share x with
    sum(min(x, size)) <= target, the rest one each to groups larger than x (drawn)."""
    sizes = np.asarray(sizes, np.int64)
    if sizes.sum() <= target:
        return sizes.copy()
    lo, hi = 0, int(sizes.max())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if np.minimum(sizes, mid).sum() <= target else (lo, mid)
    x = lo
    out = np.minimum(sizes, x)
    left, cand = int(target - out.sum()), int((sizes > x).sum())
    for i in range(len(sizes)):
        if left == 0:
            break
        if sizes[i] <= x:
            continue
        if cand * rng.unit() < left:
            out[i] += 1
            left -= 1
        cand -= 1
    return out


def sample_reference(cluster, dist, parents, ks, target, closest):
    """cluster[row] (level 1, -1: unassigned), parents[l][node] (level l+1 -> l+2), ks the clusters
    per level; the selected rows."""
    k1 = ks[0]
    sizes = [np.bincount(cluster[cluster >= 0], minlength=k1)]
    for p, k in zip(parents, ks[1:]):
        sizes.append(np.bincount(p, weights=sizes[-1], minlength=k).astype(np.int64))
    top = len(sizes) - 1
    rng = Rng(SEED)
    leaf = np.zeros(k1, np.int64)

    def down(level, node, t):
        if level == 0:
            leaf[node] = t
            return
        kids = np.where(parents[level - 1] == node)[0]
        for kid, tk in zip(kids, split(sizes[level - 1][kids], t, rng)):
            down(level - 1, kid, tk)

    for node, t in enumerate(split(sizes[top], target, rng)):
        down(top, node, t)
    chosen = []
    for c in range(k1):
        rows = np.where(cluster == c)[0]
        want = min(leaf[c], len(rows))
        if closest:
            chosen += list(rows[np.lexsort((rows, dist[rows]))][:want])
        else:
            st = Rng(SEED ^ ((0x9e3779b97f4a7c15 * (c + 1)) & M64))
            m = list(rows)
            for i in range(want):
                j = i + st.next() % (len(m) - i)
                m[i], m[j] = m[j], m[i]
            chosen += m[:want]
    return np.sort(np.array(chosen, int))


# ---- the program against them ----

def read_levels(cl, levels):
    out = []
    for lv in range(2, levels + 1):
        with h5py.File(os.path.join(cl, f"level{lv}.h5")) as f:
            out.append({k: f[k][:] for k in ("centroids", "parent", "distance", "counts")})
    return out


def compare(cl, ks, levels, steps=10, r_flag=None, iters=50, random=False):
    """The level files of run `cl` against the NumPy reference from its level-1 centroids."""
    with h5py.File(os.path.join(cl, "centroids.h5")) as f:
        pts = f["centroids"][:].astype(np.float64)
    for lv, got in enumerate(levels, start=2):
        k_prev, k = ks[lv - 2], ks[lv - 1]
        r = r_flag or -(-k_prev // (2 * k))
        c, a = level_reference(pts, k, lv, r, steps, iters, random)
        if not np.array_equal(a, got["parent"]):
            bad = int((a != got["parent"]).sum())
            raise SystemExit(f"FAIL: level {lv}: {bad} of {len(a)} parents differ from the NumPy reference")
        err = float(np.abs(c.astype(np.float32) - got["centroids"]).max())
        how = f"{steps} steps of r = {r}{' random' if random else ''}, {iters} Lloyd steps"
        print(f"level {lv} ({how}): {k_prev} -> {k} clusters, the same "
              f"parents as the reference, centroids within {err:.2e}; sizes {np.sort(got['counts'])[::-1].tolist()}")
        if err > 1e-6:
            raise SystemExit(f"FAIL: level {lv} centroids differ by {err:.3g} (tolerance 1e-6)")
        pts = c


def planted(rng):
    """3 concepts of 1500 near-copies each, 60 concepts of 20 rows; unit-norm rows, dimension 16."""
    d, big, small = 16, 3, 60
    centres = rng.standard_normal((big + small, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    concept = np.concatenate([np.repeat(np.arange(big), 1500), np.repeat(np.arange(big, big + small), 20)])
    noise = np.where(concept < big, 0.02, 0.15)[:, None]
    x = centres[concept] + noise * rng.standard_normal((len(concept), d)) / math.sqrt(d)
    perm = rng.permutation(len(concept))
    return x[perm].astype(np.float32), concept[perm]


def balance(concept, rows, n_concepts):
    h = np.bincount(concept[rows], minlength=n_concepts) / len(rows)
    nz = h[h > 0]
    return float(-(nz * np.log(nz)).sum() / math.log(n_concepts)), float(h[:3].sum())


def main():
    work = cd.fresh_dir(sys.argv[1])
    x, concept = planted(np.random.default_rng(11))
    emb = os.path.join(work, "emb")
    keys = np.array(cd.write_set(emb, x, shards=3, dtype="f4"))
    ks = [120, 30, 8]
    args = ["cluster", "--input", emb, "--k", ",".join(map(str, ks)), "--iters", "10", "--quiet"]
    runs = {}
    for ranks in (1, 2, 4):
        out = os.path.join(work, f"cl{ranks}")
        cd.run(args + ["--output", out], ranks=ranks)
        runs[ranks] = read_levels(out, len(ks))
    for ranks in (2, 4):
        for lv, (a, b) in enumerate(zip(runs[1], runs[ranks]), start=2):
            for name in a:
                if a[name].tobytes() != b[name].tobytes():
                    raise SystemExit(f"FAIL: level {lv} {name}: {ranks} ranks differ from 1 rank")
    print("1, 2 and 4 ranks: identical level files (centroids, parent, distance, counts)")

    cl = os.path.join(work, "cl1")
    compare(cl, ks, runs[1])
    # the flags: other steps, points per cluster and Lloyd steps; no resampling at all
    variants = ((["--resample-steps", "3", "--resample-rows", "3", "--level-iters", "20"], 3, 3, 20, False),
                (["--resample-from", "random", "--resample-rows", "4"], 10, 4, 50, True),
                (["--resample-steps", "0"], 0, None, 50, False))
    for extra, steps, r, iters, random in variants:
        out = os.path.join(work, "cl_" + "_".join(extra[1::2]))
        cd.run(args + ["--output", out] + extra, ranks=2)
        got = read_levels(out, len(ks))
        compare(out, ks, got, steps, r, iters, random)
        if all(np.array_equal(g["parent"], d["parent"]) for g, d in zip(got, runs[1])):
            raise SystemExit(f"FAIL: {' '.join(extra)} gave the default run's tree: the flags changed nothing")

    asg = cd.read_assign(cl)
    assert list(asg["key"]) == list(keys)
    parents = [lvl["parent"] for lvl in runs[1]]
    target = 600
    for strategy in ("random", "closest"):
        out = os.path.join(work, f"s_{strategy}.h5")
        cd.run(["sample", "--clusters", cl, "--target", str(target), "--output", out, "--strategy", strategy])
        with h5py.File(out) as f:
            got = f["key"][:].astype(str)
        want = keys[sample_reference(asg["cluster"], asg["distance"], parents, ks, target, strategy == "closest")]
        if list(got) != list(want):
            raise SystemExit(f"FAIL: sample --strategy {strategy}: {len(set(got) ^ set(want))} keys differ "
                             "from the NumPy reference")
        print(f"sample --strategy {strategy}: the same {len(got)} keys as the NumPy reference")

    gid = {k: i for i, k in enumerate(keys)}
    with h5py.File(os.path.join(work, "s_random.h5")) as f:
        rows = np.array([gid[k] for k in f["key"][:].astype(str)])
    uniform = np.random.default_rng(3).choice(len(keys), target, replace=False)
    n_concepts = int(concept.max()) + 1
    h_s, big_s = balance(concept, rows, n_concepts)
    h_u, big_u = balance(concept, uniform, n_concepts)
    print(f"balance over {n_concepts} planted concepts, {target} rows: normalised entropy {h_s:.3f} "
          f"(uniform random {h_u:.3f}); the 3 large concepts {big_s:.1%} of the sample "
          f"(uniform random {big_u:.1%}, all rows {np.mean(concept < 3):.1%})")
    if not (h_s >= h_u + 0.2 and big_s <= big_u / 2):
        raise SystemExit("FAIL: the hierarchical sample is not measurably more balanced than uniform")
    print("OK")


if __name__ == "__main__":
    main()
