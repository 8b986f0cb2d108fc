"""`webssl-dist dedup` (SemDeDup) against a NumPy implementation of the paper's algorithm written
here (Abbas et al. 2023, with NeMo Curator's --keep orders), on the same assignments:
  1. --keep hard and easy, eps 0.001,0.01,0.05 in one run: the keep columns identical (rows within
     1e-6 of a threshold aside), max_similarity to 1e-5, the duplicate's shard and row identical
     where the earlier best match is unique; 1 and 3 ranks give the same files;
  2. --keep random: 1 and 3 ranks agree, and no two kept rows of a cluster are closer than the
     threshold (what the rule guarantees whatever the order);
  3. planted near-duplicates (copies of 150 rows with noise of relative size 1e-3, exact copies, and
     100 copies at cosine about 0.9987) are all removed at eps 0.01 and every distinct row is kept;
  4. summary.json counts match the files; a missing --clusters directory is an error naming it.
Usage: test_dedup.py WORKDIR."""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import curate_data as cd  # noqa: E402

EPS = [0.001, 0.01, 0.05]


def load(directory):
    out = {}
    names = sorted(n for n in os.listdir(directory) if n.endswith(".h5") and not n.startswith("."))
    for name in names:
        with h5py.File(os.path.join(directory, name)) as f:
            assert f.attrs["complete"] == 1
            for k in ("key", "status", "cluster", "max_similarity", "duplicate_shard", "duplicate_row", "keep"):
                v = f[k][:]
                out.setdefault(k, []).append(v.astype(str) if k in ("key", "duplicate_shard") else v)
    return {k: np.concatenate(v) for k, v in out.items()}


def reference(x, cluster, dist, keep):
    """The paper's algorithm: per cluster, rows in keep order, max cosine to any earlier row."""
    xn = x.astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    n = len(x)
    max_sim, dup, unique = np.full(n, np.nan), np.full(n, -1), np.ones(n, bool)
    gid = np.arange(n)
    for c in np.unique(cluster[cluster >= 0]):
        rows = gid[cluster == c]
        key = np.lexsort((rows, dist[rows]))          # by distance, then row id
        order = rows[key[::-1]] if keep == "hard" else rows[key]
        s = xn[order] @ xn[order].T
        for j in range(1, len(order)):
            prev = s[j, :j]
            b = int(np.argmax(prev))
            max_sim[order[j]], dup[order[j]] = prev[b], order[b]
            unique[order[j]] = np.sum(prev >= prev[b] - 1e-6) == 1
    return max_sim, dup, unique


def compare(got, x, assign, shard_first, keep):
    ms, dup, unique = reference(x, assign["cluster"], assign["distance"], keep)
    has = ~np.isnan(ms)
    if not np.array_equal(np.isnan(got["max_similarity"]), ~has):
        raise SystemExit("FAIL: rows without an earlier row differ")
    cd.report(f"{keep}: max_similarity vs NumPy", got["max_similarity"][has], ms[has], 1e-5)
    names = sorted(shard_first)
    gdup = np.array([shard_first[s] + r if s else -1 for s, r in zip(got["duplicate_shard"], got["duplicate_row"])])
    sel = has & unique
    if not np.array_equal(gdup[sel], dup[sel]):
        raise SystemExit(f"FAIL: {keep}: {np.sum(gdup[sel] != dup[sel])} duplicate_of differ")
    for e, eps in enumerate(EPS):
        ref_keep = (assign["cluster"] >= 0) & ~(ms > 1 - eps)
        clear = ~(np.abs(ms - (1 - eps)) < 1e-6)
        bad = np.sum(got["keep"][clear, e] != ref_keep[clear])
        print(f"{keep} eps {eps}: kept {int(got['keep'][:, e].sum())} of {len(x)}, {bad} differ from NumPy "
              f"({np.sum(~clear)} within 1e-6 of the threshold left out)")
        if bad:
            raise SystemExit("FAIL: keep differs from the NumPy reference")
    del names


def main():
    work = cd.fresh_dir(sys.argv[1])
    rng = np.random.default_rng(3)
    base = cd.mixture(2000, 32, 12, seed=2, spread=3.0)
    planted_of = rng.choice(len(base), 150, replace=False)
    copies = base[planted_of] * (1 + 1e-3 * rng.standard_normal((150, 32)).astype(np.float32))
    exact = base[planted_of[:20]]
    near_of = rng.choice(len(base), 100, replace=False)   # cos about 0.9987: removed at 0.01, not at 0.001
    near = base[near_of] + 0.05 * np.linalg.norm(base[near_of], axis=1, keepdims=True) * \
        rng.standard_normal((100, 32)).astype(np.float32) / np.sqrt(32)
    x = np.concatenate([base, copies, exact, near]).astype(np.float32)
    perm = rng.permutation(len(x))
    x = x[perm]
    is_copy = perm >= len(base)
    emb = os.path.join(work, "emb")
    cd.write_set(emb, x, shards=4, dtype="f4")
    shard_first, at = {}, 0
    for i in range(4):
        with h5py.File(os.path.join(emb, f"shard-{i:05d}.h5")) as f:
            shard_first[f"shard-{i:05d}"] = at
            at += len(f["cls"])
    cl = os.path.join(work, "clusters")
    cd.run(["cluster", "--input", emb, "--output", cl, "--k", "10", "--quiet"], ranks=2)
    assign = cd.read_assign(cl)
    eps = ",".join(map(str, EPS))
    for keep in ("hard", "easy", "random"):
        outs = []
        for ranks in (1, 3):
            out = os.path.join(work, f"dedup-{keep}-{ranks}")
            cd.run(["dedup", "--input", emb, "--clusters", cl, "--output", out, "--eps", eps, "--keep", keep,
                    "--block", "64"], ranks=ranks)
            outs.append(load(out))
        for k in outs[0]:
            a, b = outs[0][k], outs[1][k]
            same = np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else np.array_equal(a, b)
            if not same:
                raise SystemExit(f"FAIL: {keep}: '{k}' differs between 1 and 3 ranks")
        got = outs[0]
        if list(got["key"]) != list(assign["key"]):
            raise SystemExit("FAIL: dedup keys differ from the assignment keys")
        if keep == "random":
            xn = x / np.linalg.norm(x, axis=1, keepdims=True)
            for e, ep in enumerate(EPS):
                for c in range(10):
                    kept = np.where((got["keep"][:, e] == 1) & (assign["cluster"] == c))[0]
                    s = xn[kept] @ xn[kept].T - 2 * np.eye(len(kept))
                    if len(kept) > 1 and s.max() > 1 - ep + 1e-6:
                        raise SystemExit(f"FAIL: random eps {ep}: two kept rows of cluster {c} at cos {s.max()}")
            print("random: 1 and 3 ranks identical; no two kept rows of a cluster above any threshold")
        else:
            compare(got, x, assign, shard_first, keep)
            print(f"{keep}: 1 and 3 ranks identical")
        # planted near-duplicates: one copy of each group survives at eps 0.01, distinct rows all kept
        k01 = got["keep"][:, EPS.index(0.01)]
        groups = len(base)
        if k01.sum() != groups:
            raise SystemExit(f"FAIL: {keep}: kept {k01.sum()} rows at eps 0.01, expected the {groups} distinct ones")
        print(f"{keep}: planted copies removed, {groups} distinct rows kept ({int(is_copy.sum())} copies)")
        with open(os.path.join(work, f"dedup-{keep}-1", "summary.json")) as f:
            summ = json.load(f)
        for e, ep in enumerate(EPS):
            assert summ["eps"][e]["kept"] == int(got["keep"][:, e].sum()), summ
    p = cd.run(["dedup", "--input", emb, "--clusters", os.path.join(work, "none"), "--output",
                os.path.join(work, "d-bad")], check=False)
    if p.returncode != 1 or "--clusters" not in p.stderr:
        raise SystemExit(f"FAIL: dedup without clusters: exit {p.returncode}, {p.stderr!r}")
    print(f"error as expected: {p.stderr.strip().splitlines()[0]}")
    print("OK")


if __name__ == "__main__":
    main()
