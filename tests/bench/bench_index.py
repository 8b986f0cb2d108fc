"""Time and peak memory of `webssl-dist index` against the shard count: S synthetic shard files
(copies of one small complete shard: key, status, cls, patch_mean, 4 rows), indexed; printed as
a markdown table with the per-shard cost and the memory above a one-shard run (the program's
fixed footprint: linked libraries). Then the index read back through h5py: one slice over the
first 10,000 rows, and the count of rows that came back missing.
usage: bench_index.py [--bin webssl-dist] [--shards 1000,10000,100000] [--work DIR]"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from shard_seal import seal  # noqa: E402


def make_shards(d, n, rows=4, dim=8):
    os.makedirs(d, exist_ok=True)
    t = os.path.join(d, "template.src")
    with h5py.File(t, "w", userblock_size=512) as f:
        f.create_dataset("key", data=[f"k{i}" for i in range(rows)], dtype=h5py.string_dtype())
        f.create_dataset("status", data=np.zeros(rows, np.int8))
        f.create_dataset("cls", data=np.ones((rows, dim), np.float16))
        f.create_dataset("patch_mean", data=np.ones((rows, dim), np.float16))
        f.attrs["image_count"] = np.int64(rows)
        f.attrs["complete"] = np.int64(1)
    seal(t)
    have = sum(1 for x in os.listdir(d) if x.startswith("s") and x.endswith(".h5"))
    for i in range(have, n):
        shutil.copyfile(t, os.path.join(d, f"s{i:07d}.h5"))
    os.unlink(t)


def run_index(binary, d):
    """Wall s, peak resident MB and CPU s of `index d` (GNU time: the program's own peak, not
    that of the forked Python before exec)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", binary, "index", d], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"index {d} failed: {p.stdout} {p.stderr}")
    wall, kb, user, sys_ = p.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kb) / 1024.0, float(user) + float(sys_)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "webssl-dist"))
    ap.add_argument("--shards", default="1000,10000,100000")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="bench_index_")
    one = os.path.join(work, "one")
    make_shards(one, 1)
    _, base_mb, _ = run_index(a.bin, one)
    print(f"one shard: peak {base_mb:.0f} MB (the fixed footprint)")
    print("| shards | wall s | CPU s | CPU ms/shard | peak MB | above one shard, MB | KB/shard | 10k-row slice s | rows missing |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.shards.split(",")]:
        d = os.path.join(work, f"s{n}")
        make_shards(d, n)
        wall, mb, cpu = run_index(a.bin, d)
        t0 = time.monotonic()
        with h5py.File(os.path.join(d, "index.h5")) as f:
            st = f["status"][:10000]
        t_read = time.monotonic() - t0
        print(f"| {n} | {wall:.1f} | {cpu:.1f} | {1000 * cpu / n:.2f} | {mb:.0f} | {mb - base_mb:.0f} | "
              f"{1024 * (mb - base_mb) / n:.2f} | {t_read:.2f} | {int(np.sum(st == -1))} |", flush=True)


if __name__ == "__main__":
    main()
