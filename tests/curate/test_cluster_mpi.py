"""`webssl-dist cluster` at any scale and on bad input:
  1. 1, 2 and 4 ranks: the same centroids (max abs difference <= 1e-6; the reductions are exact, so
     0 is expected) and the same assignments, an empty shard among the inputs;
  2. the assignment files: every key of the input in order, cluster = the nearest centroid and
     distance = 1 - cos recomputed here in float64 (1e-5);
  3. resume: a run stopped after 3 iterations and continued to 8 ends with the 8-iteration run's
     centroids; a run killed (SIGKILL) while training and rerun ends with the uninterrupted
     run's centroids and assignments;
  4. hierarchical --k 16,4: level2.h5 maps the 16 centroids onto 4;
  5. bad input: NaN rows, failed images and zero rows get a per-row status and cluster -1;
     mixed dimensions, an incomplete shard, k larger than the rows and a missing directory are
     errors (exit 1) naming the input.
Usage: test_cluster_mpi.py WORKDIR."""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import curate_data as cd  # noqa: E402


def cluster(emb, out, ranks=1, extra=()):
    return cd.run(["cluster", "--input", emb, "--output", out, "--k", "16", "--iters", "8", "--max-per-centroid",
                   "100", "--quiet", *extra], ranks=ranks)


def check_ranks(work, x, keys, emb):
    ref = None
    for ranks in (1, 2, 4):
        out = os.path.join(work, f"r{ranks}")
        cluster(emb, out, ranks)
        c, a = cd.centroids(out), cd.read_assign(out)
        if ref is None:
            ref = (c, a)
            continue
        cd.report(f"centroids, {ranks} ranks vs 1", c, ref[0], 1e-6)
        if not np.array_equal(a["cluster"], ref[1]["cluster"]):
            raise SystemExit(f"FAIL: {ranks} ranks assign {np.sum(a['cluster'] != ref[1]['cluster'])} rows differently")
        print(f"{ranks} ranks: the same {len(a['cluster'])} assignments as 1 rank")
    c, a = ref
    if list(a["key"]) != keys:
        raise SystemExit("FAIL: assignment keys differ from the input keys")
    xn = x.astype(np.float16).astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    s = xn @ c.astype(np.float64).T
    near = s.argmax(1)
    top2 = np.sort(s, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-5
    if not np.array_equal(a["cluster"][clear], near[clear]):
        raise SystemExit("FAIL: a row is not assigned to its nearest centroid")
    cd.report("distance vs 1 - cos (float64)", a["distance"], 1.0 - s.max(1), 1e-5)
    return c, a


def check_resume(work, emb, ref_c, ref_a):
    out = os.path.join(work, "cont")
    cd.run(["cluster", "--input", emb, "--output", out, "--k", "16", "--iters", "3", "--max-per-centroid", "100",
            "--quiet"])
    with h5py.File(os.path.join(out, "checkpoint.h5")) as f:
        assert f.attrs["iteration"] == 3
    cluster(emb, out, ranks=2)
    cd.report("continued 3 -> 8 iterations vs 8 at once", cd.centroids(out), ref_c, 0.0)
    if not np.array_equal(cd.read_assign(out)["cluster"], ref_a["cluster"]):
        raise SystemExit("FAIL: assignments after continuing differ")
    # killed while training: a larger problem so that training takes a while
    x = cd.mixture(40000, 64, 50, seed=11)
    big = os.path.join(work, "emb-big")
    cd.write_set(big, x, shards=4)
    args = ["cluster", "--input", big, "--k", "64", "--iters", "30", "--quiet"]
    ref = os.path.join(work, "big-ref")
    cd.run(args + ["--output", ref], ranks=2)
    out = os.path.join(work, "big-killed")
    cmd = [cd.MPIEXEC, "--oversubscribe", "--allow-run-as-root", "-n", "2", cd.BIN] + args + ["--output", out]
    p = subprocess.Popen(cmd, env=cd.ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    ckpt, it = os.path.join(out, "checkpoint.h5"), 0
    while p.poll() is None and not os.path.exists(ckpt):
        time.sleep(0.02)
    if p.poll() is None:
        with h5py.File(ckpt) as f:
            it = int(f.attrs["iteration"])
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    print(f"killed at iteration {it} (0: it finished first)")
    cd.run(args + ["--output", out], ranks=2)
    cd.report("killed and rerun vs uninterrupted", cd.centroids(out), cd.centroids(ref), 0.0)
    if not np.array_equal(cd.read_assign(out)["cluster"], cd.read_assign(ref)["cluster"]):
        raise SystemExit("FAIL: assignments after the kill differ")


def check_hierarchy(work, emb):
    out = os.path.join(work, "hier")
    cd.run(["cluster", "--input", emb, "--output", out, "--k", "16,4", "--iters", "8", "--quiet"], ranks=2)
    with h5py.File(os.path.join(out, "level2.h5")) as f:
        parent, counts = f["parent"][:], f["counts"][:]
        assert f["centroids"].shape == (4, 24)
    assert parent.shape == (16,) and parent.min() >= 0 and parent.max() < 4 and counts.sum() == 16
    print(f"hierarchical: level 2 sizes {counts.tolist()}")


def expect_error(args, words):
    p = cd.run(args, check=False)
    if p.returncode != 1 or not all(w in p.stderr for w in words):
        raise SystemExit(f"FAIL: {args} exited {p.returncode}, stderr: {p.stderr!r}, expected {words}")
    print(f"error as expected: {p.stderr.strip().splitlines()[0]}")


def check_bad_input(work):
    d = 24
    x = cd.mixture(400, d, 8, seed=5)
    bad = cd.fresh_dir(os.path.join(work, "emb-bad"))
    status = np.zeros(400, np.int8)
    x[3] = np.nan
    x[7, 5] = np.inf
    status[10] = 4               # a failed image: zeros in the features
    x[10] = 0
    x[20] = 0                    # a zero row under cosine
    cd.write_shard(os.path.join(bad, "a.h5"), x, status=status)
    cd.write_shard(os.path.join(bad, "b.h5"), np.zeros((0, d), np.float32))
    out = os.path.join(work, "bad-out")
    cd.run(["cluster", "--input", bad, "--output", out, "--k", "8", "--quiet"])
    a = cd.read_assign(out)
    want = {3: 2, 7: 2, 10: 1, 20: 3}
    for row, st in want.items():
        if a["status"][row] != st or a["cluster"][row] != -1 or not np.isnan(a["distance"][row]):
            raise SystemExit(f"FAIL: row {row}: status {a['status'][row]}, cluster {a['cluster'][row]}")
    ok = np.setdiff1d(np.arange(400), list(want))
    assert (a["status"][ok] == 0).all() and (a["cluster"][ok] >= 0).all() and len(a["cluster"]) == 400
    print("bad rows: status 2 (non-finite), 1 (failed image), 3 (zero); the other 396 assigned; empty shard kept")
    mixed = cd.fresh_dir(os.path.join(work, "emb-mixed"))
    cd.write_shard(os.path.join(mixed, "a.h5"), x[:50])
    cd.write_shard(os.path.join(mixed, "b.h5"), np.ones((50, 32), np.float32))
    expect_error(["cluster", "--input", mixed, "--output", os.path.join(work, "o1"), "--k", "4"],
                 ["b.h5", "mixed dimensions"])
    inc = cd.fresh_dir(os.path.join(work, "emb-incomplete"))
    cd.write_shard(os.path.join(inc, "a.h5"), x[:50], complete=0)
    expect_error(["cluster", "--input", inc, "--output", os.path.join(work, "o2"), "--k", "4"],
                 ["a.h5", "not marked complete"])
    expect_error(["cluster", "--input", bad, "--output", os.path.join(work, "o3"), "--k", "500"],
                 ["--k 500", "larger than"])
    expect_error(["cluster", "--input", os.path.join(work, "nowhere"), "--output", os.path.join(work, "o4"),
                  "--k", "4"], ["nowhere"])
    expect_error(["cluster", "--input", bad, "--output", os.path.join(work, "o5"), "--k", "4", "--metric", "dot"],
                 ["--metric"])


def main():
    work = cd.fresh_dir(sys.argv[1])
    x = cd.mixture(5000, 24, 20, seed=1)
    emb = os.path.join(work, "emb")
    keys = cd.write_set(emb, x, shards=5)
    cd.write_shard(os.path.join(emb, "shard-00002b.h5"), np.zeros((0, 24), np.float32))
    c, a = check_ranks(work, x, keys, emb)
    check_resume(work, emb, c, a)
    check_hierarchy(work, emb)
    check_bad_input(work)
    print("OK")


if __name__ == "__main__":
    main()
