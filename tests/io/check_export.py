"""`webssl-dist export` read back with h5py (reference reader):
  - the whole directory: every dataset equals the shard files' rows concatenated in name order
    (index order), with shard_name / shard_start / shard_offset, the run's attributes and none of
    a shard's own; chunked and compressed; written under `ulimit -n 32` with 60 shards (one
    shard file open at a time);
  - --range a:b equals that slice (also across shard boundaries), --datasets keeps only those
    (key and status always);
  - a damaged shard: exit status 2, the file named, nothing written (no temporary left); a
    damaged shard after the range does not stop the range;
  - an existing output is kept without --overwrite and replaced with it; an output inside DIR is
    refused; --help comes from the flag table.
usage: check_export.py WORKDIR   (WEBSSL_BIN names the program)"""
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
WORK = os.path.abspath(sys.argv[1])
SHARDS, D, P = 60, 6, 4


def rows_of(i):
    return 1 + (i * 7) % 5   # 1 to 5 rows: ranges cross shard boundaries


def make_shards(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = np.random.default_rng(0)
    for i in reversed(range(SHARDS)):   # created out of order: the export sorts by name
        n = rows_of(i)
        with h5py.File(os.path.join(d, f"s{i:04d}.h5"), "w", userblock_size=512) as f:
            f.create_dataset("key", data=[f"{i}/{r}" for r in range(n)], dtype=h5py.string_dtype())
            st = np.zeros(n, np.int8)
            st[0] = 3 if i == 2 else 0
            f.create_dataset("status", data=st, chunks=True)
            f.create_dataset("cls", data=rng.standard_normal((n, D)).astype(np.float16))
            f.create_dataset("patch", data=rng.standard_normal((n, P, D)).astype(np.float32))
            f.create_dataset("proto_index", data=rng.integers(-1, 100, n).astype(np.int32))
            f.create_dataset("proto_score", data=rng.standard_normal(n).astype(np.float32))
            f.attrs["model"] = "tiny-model"
            f.attrs["resolution"] = np.int64(224)
            f.attrs["source"] = f"shard-{i}.tar"
            f.attrs["image_count"] = np.int64(n)
            f.attrs["complete"] = np.int64(1)
        seal(os.path.join(d, f"s{i:04d}.h5"))


def reference(d, name):
    files = sorted(x for x in os.listdir(d) if x.endswith(".h5"))
    parts = []
    for x in files:
        with h5py.File(os.path.join(d, x), "r") as f:
            parts.append(f["key"].asstr()[:] if name == "key" else f[name][:])
    return np.concatenate(parts)


def export(*args, limit=None):
    pre = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))) if limit else None
    return subprocess.run([BIN, "export", *args], capture_output=True, text=True, preexec_fn=pre)


def same(path, d, lo=0, hi=None, names=("key", "status", "cls", "patch", "proto_index", "proto_score")):
    with h5py.File(path, "r") as f:
        ok = set(f.keys()) >= set(names)
        for n in names:
            got = f[n].asstr()[:] if n == "key" else f[n][:]
            ref = reference(d, n)[lo:hi]
            ok = ok and got.dtype == ref.dtype and np.array_equal(got, ref)
        return ok


def main():
    d = os.path.join(WORK, "run")
    out = os.path.join(WORK, "all.h5")
    make_shards(d)
    total = sum(rows_of(i) for i in range(SHARDS))

    p = export(d, "--output", out, limit=32)
    check(p.returncode == 0, f"export of {SHARDS} shards under ulimit -n 32 (rc {p.returncode}: {p.stderr.strip()})")
    check(same(out, d), "every dataset equals the shards' rows in name order, same dtypes")
    with h5py.File(out, "r") as f:
        names = f["shard_name"].asstr()[:]
        start = f["shard_start"][:]
        check(list(names) == [f"s{i:04d}.h5" for i in range(SHARDS)] and start[-1] == total and
              np.array_equal(np.diff(start), [rows_of(i) for i in range(SHARDS)]) and
              not f["shard_offset"][:].any(), "shard_name / shard_start / shard_offset")
        check(f.attrs["model"] == "tiny-model" and f.attrs["resolution"] == 224 and "source" not in f.attrs and
              "image_count" not in f.attrs and f.attrs["row_count"] == total and f.attrs["row_start"] == 0,
              "the run's attributes copied, a shard's own left out, row_start / row_count")
        check(f["cls"].compression == "gzip" and f["cls"].shuffle and f["patch"].chunks is not None,
              f"chunked ({f['patch'].chunks}) and compressed ({f['cls'].compression})")

    r = os.path.join(WORK, "range.h5")
    p = export(d, "--output", r, "--range", "7:41", "--datasets", "cls,proto")
    check(p.returncode == 0 and same(r, d, 7, 41, ("key", "status", "cls", "proto_index", "proto_score")),
          f"--range 7:41 --datasets cls,proto equals rows 7..40 (rc {p.returncode} {p.stderr.strip()})")
    starts = np.cumsum([0] + [rows_of(i) for i in range(SHARDS)])
    k = int(np.searchsorted(starts, 7, side="right")) - 1   # the shard holding row 7
    with h5py.File(r, "r") as f:
        check("patch" not in f and f.attrs["row_start"] == 7 and f["shard_start"][-1] == 34 and
              f["shard_name"].asstr()[0] == f"s{k:04d}.h5" and f["shard_offset"][0] == 7 - starts[k],
              f"no patch; row_start 7; 34 rows; the first shard s{k:04d} from its row {7 - starts[k]}")
    p = export(d, "--output", os.path.join(WORK, "tail.h5"), "--range", f"{total - 3}:")
    check(p.returncode == 0 and same(os.path.join(WORK, "tail.h5"), d, total - 3), "--range a: (the last 3 rows)")
    p = export(d, "--output", os.path.join(WORK, "bad.h5"), "--range", f"5:{total + 1}")
    check(p.returncode == 1 and "not inside" in p.stderr, f"a range past the end refused: {p.stderr.strip()}")
    p = export(d, "--output", os.path.join(WORK, "bad.h5"), "--datasets", "cls,nope")
    check(p.returncode == 1 and "nope" in p.stderr, f"an unknown dataset named: {p.stderr.strip()}")

    before = open(out, "rb").read()
    p = export(d, "--output", out, "--range", "0:5")
    check(p.returncode == 1 and "exists" in p.stderr and open(out, "rb").read() == before,
          f"an existing output kept without --overwrite: {p.stderr.strip()}")
    p = export(d, "--output", out, "--range", "0:5", "--overwrite")
    with h5py.File(out, "r") as f:
        check(p.returncode == 0 and len(f["key"]) == 5, "replaced with --overwrite")
    p = export(d, "--output", os.path.join(d, "inside.h5"))
    check(p.returncode == 1 and "shard" in p.stderr and not os.path.exists(os.path.join(d, "inside.h5")),
          f"an output inside DIR refused: {p.stderr.strip()}")

    victim = os.path.join(d, "s0030.h5")
    with open(victim, "r+b") as f:   # one byte of the data changed: the checksum no longer matches
        f.seek(os.path.getsize(victim) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    dmg = os.path.join(WORK, "damaged.h5")
    p = export(d, "--output", dmg)
    left = [x for x in os.listdir(WORK) if ".tmp." in x]
    check(p.returncode == 2 and "s0030.h5" in p.stderr and not os.path.exists(dmg) and not left,
          f"a damaged shard named, nothing written: rc {p.returncode}, {p.stderr.strip()}")
    p = export(d, "--output", dmg, "--range", "0:20")
    check(p.returncode == 0 and same(dmg, d, 0, 20), "a damaged shard after the range does not stop it")

    p = subprocess.run([BIN, "export", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "--range" in p.stdout and "--overwrite" in p.stdout, "--help from the flag table")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
