"""`webssl-dist index` at many shards, read back with h5py (reference reader), including under a
low open-file limit:
  - every row read through index.h5 equals its shard's row, or is recognisably missing (status
    -1, NaN features, proto_index -2, empty key): never status 0 with zero features. Under
    `ulimit -n 128` HDF5 cannot open every shard a whole-table read touches: those rows must come
    back as missing, and there must be some;
  - the access patterns of docs/output.md (one part at a time; one shard at a time through
    shard_name / shard_start) read every row exactly under the same limit;
  - a shard removed after indexing reads as missing rows; incomplete files and a name holding
    '%' are handled; a rebuild replaces the parts and removes the old ones; a build while
    another holds the lock is refused.
usage: check_index.py WORKDIR   (WEBSSL_BIN names the program)"""
import fcntl
import os
import resource
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from checks import check, finish, require  # noqa: E402

h5py, np = require("h5py", "numpy")
from shard_seal import seal  # noqa: E402

BIN = os.environ["WEBSSL_BIN"]
WORK = sys.argv[1]
SHARDS, ROWS, D, LIMIT = 700, 3, 4, 128


def shard_name(i):
    return f"s{i:05d}" if i != 5 else "s00005%b"   # '%' is special in HDF5 source names


def make_shards(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i in range(SHARDS):
        path = os.path.join(d, shard_name(i) + ".h5")
        with h5py.File(path, "w", userblock_size=512) as f:
            f.create_dataset("key", data=[f"{i}/{r}" for r in range(ROWS)], dtype=h5py.string_dtype())
            st = np.zeros(ROWS, np.int8)
            cls = (i * ROWS + np.arange(ROWS, dtype=np.float32)[:, None] + 1 + np.zeros(D, np.float32))
            pi = np.arange(ROWS, dtype=np.int32)
            if i == 3:       # a failed image: status 3, zero features, proto_index -1
                st[1], cls[1], pi[1] = 3, 0, -1
            f.create_dataset("status", data=st)
            f.create_dataset("cls", data=cls.astype(np.float16))
            f.create_dataset("proto_index", data=pi)
            f.attrs["image_count"] = np.int64(ROWS)
            f.attrs["complete"] = np.int64(1 if i != 7 else 0)   # shard 7: incomplete, left out
        seal(path)
    kept = [i for i in range(SHARDS) if i != 7]
    keys = np.array([f"{i}/{r}" for i in kept for r in range(ROWS)])
    return keys


def read_ok_or_missing(f, keys, what):
    key, st = f["key"].asstr()[:], f["status"][:]
    cls, pi = f["cls"][:].astype(np.float32), f["proto_index"][:]
    missing = st == -1
    ok_rows = ~missing
    check(len(key) == len(keys), f"{what}: {len(key)} rows")
    good = np.array_equal(key[ok_rows], keys[ok_rows])
    bad_zero = int(np.sum((st == 0) & np.all(cls == 0, axis=1)))
    miss_ok = (np.all(np.isnan(cls[missing])) and np.all(pi[missing] == -2) and
               np.all(key[missing] == "") if missing.any() else True)
    check(good and bad_zero == 0 and miss_ok,
          f"{what}: {int(missing.sum())} rows missing, all NaN / proto -2 / empty key ({miss_ok}); "
          f"{bad_zero} rows of status 0 and zeros; the others equal the shards ({good})")
    return int(missing.sum())


def read_by_parts(d, name):
    """docs/output.md: one part at a time (at most part_shards shard files open)."""
    with h5py.File(os.path.join(d, "index.h5")) as f:
        parts = f["part_name"].asstr()[:]
    out = []
    for p in parts:
        with h5py.File(os.path.join(d, p)) as g:
            out.append(g[name].asstr()[:] if name == "key" else g[name][:])
    return np.concatenate(out)


def read_by_shards(d, name, start, stop):
    """docs/output.md: rows [start, stop) one shard file at a time through shard_name/shard_start."""
    with h5py.File(os.path.join(d, "index.h5")) as f:
        names, first = f["shard_name"].asstr()[:], f["shard_start"][:]
    out = []
    for s in range(np.searchsorted(first, start, side="right") - 1, len(names)):
        if first[s] >= stop:
            break
        with h5py.File(os.path.join(d, names[s])) as g:
            out.append(g[name][max(start - first[s], 0):min(stop, first[s + 1]) - first[s]])
    return np.concatenate(out)


def low_limit_child(d, limit):
    """Reads under `ulimit -n limit` (the soft and hard limit: it cannot be raised again)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    keys, ref_cls = np.load(os.path.join(WORK, "keys.npy")), np.load(os.path.join(WORK, "cls.npy"))
    with h5py.File(os.path.join(d, "index.h5")) as f:
        n = read_ok_or_missing(f, keys, f"whole index under ulimit -n {limit}")
        ps = int(f.attrs["part_shards"])
    if limit < ps:
        check(n > 0, f"under ulimit -n {limit} some rows are missing ({n}), and marked so")
        got = read_by_shards(d, "key", 0, len(keys)).astype(str)
        check(np.array_equal(got, keys), f"every key, shard by shard, under ulimit -n {limit}")
        check(np.array_equal(read_by_shards(d, "cls", 100, 1900), ref_cls[100:1900]),
              f"cls rows 100..1900, shard by shard, under ulimit -n {limit}")
    else:
        check(np.array_equal(read_by_parts(d, "cls"), ref_cls), f"cls part by part under ulimit -n {limit}")
    sys.exit(finish())


if len(sys.argv) > 3 and sys.argv[2] == "--child":
    low_limit_child(os.path.join(WORK, "shards"), int(sys.argv[3]))

d = os.path.join(WORK, "shards")
keys = make_shards(d)
p = subprocess.run([BIN, "index", d], capture_output=True, text=True)
print(p.stdout.strip(), p.stderr.strip())
check(p.returncode == 0 and f"{SHARDS - 1} shards" in p.stdout and "1 files left out" in p.stdout
      and "s00007.h5: not marked complete" in p.stderr, "index runs, naming the incomplete shard")
gens = [g for g in os.listdir(os.path.join(d, "index.parts")) if not g.startswith(".")]
check(len(gens) == 1, f"one generation of parts: {gens}")
with h5py.File(os.path.join(d, "index.h5")) as f:
    check(read_ok_or_missing(f, keys, "whole index, default limit") == 0, "nothing missing at the default limit")
    ps = int(f.attrs["part_shards"])
    check(len(f["part_name"]) == -(-(SHARDS - 1) // ps) and f["part_start"][-1] == len(keys),
          f"{len(f['part_name'])} parts of {ps} shards")
    ref_cls = f["cls"][:]
check(np.array_equal(read_by_parts(d, "cls"), ref_cls), "cls read part by part equals the whole index")
check(np.array_equal(read_by_shards(d, "cls", 0, len(keys)), ref_cls), "cls read shard by shard equals it")
check(np.array_equal(read_by_shards(d, "cls", 4, 11), ref_cls[4:11]), "a slice across shards")

# Under low open-file limits: below the shards of a part, and just above them.
np.save(os.path.join(WORK, "keys.npy"), keys)
np.save(os.path.join(WORK, "cls.npy"), ref_cls)
for limit in (LIMIT, ps + 64):
    c = subprocess.run([sys.executable, __file__, WORK, "--child", str(limit)], capture_output=True, text=True)
    print(c.stdout, c.stderr[-2000:])
    check(c.returncode == 0, f"reads under ulimit -n {limit}")

# A shard removed after indexing: its rows are missing, the others are intact.
os.unlink(os.path.join(d, shard_name(10) + ".h5"))
with h5py.File(os.path.join(d, "index.h5")) as f:
    n = read_ok_or_missing(f, keys, "shard 10 removed")
check(n == ROWS, f"its {ROWS} rows are missing ({n})")

# A rebuild replaces the parts and removes the old generation.
p = subprocess.run([BIN, "index", d], capture_output=True, text=True)
gens2 = [g for g in os.listdir(os.path.join(d, "index.parts")) if not g.startswith(".")]
check(p.returncode == 0 and len(gens2) == 1 and gens2 != gens, f"rebuild: generations {gens} -> {gens2}")
with h5py.File(os.path.join(d, "index.h5")) as f:
    check(len(f["key"]) == len(keys) - ROWS, "the rebuilt index leaves the removed shard out")

# Two builds at once would remove each other's parts: the second is refused.
with open(os.path.join(d, "index.parts", ".lock"), "a") as lk:
    fcntl.flock(lk, fcntl.LOCK_EX)
    p = subprocess.run([BIN, "index", d], capture_output=True, text=True)
    check(p.returncode != 0 and "another job" in p.stderr, f"a second build at once is refused: {p.stderr.strip()}")
sys.exit(finish())
