"""Rows whose image could not be read for a reason that may heal, for `webssl-dist embed`:
  - a directory of images where the open of two files fails with EACCES and EIO (fail_open.so,
    loaded with LD_PRELOAD, as a wrong permission or a failing disk would) and one file is a
    corrupt JPEG: the shards holding the unreadable files are written with status 7 (read
    error, retry) rows and a retry_count attribute, the run exits 2 naming them; the shard with
    only the corrupt image is finished (status 3, a permanent decode error);
  - the rerun without the preload (the files healed) redoes exactly the shards with status-7
    rows and keeps the other one: every dataset then equals a clean run's;
  - a status-7 shard's file stays in place until its redo replaces it (a redo that fails again
    still leaves it).
usage: embed_retry_rows.py WORKDIR fail_open.so"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

from embed_common import check, finish, make_images, read_shards
from webssl_test import BIN, ENV, fresh_dir, tiny_model

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 10)
with open(os.path.join(imgs, "img0002.jpg"), "rb") as f:   # a JPEG cut short: a decode error
    jpeg = f.read()
with open(os.path.join(imgs, "img0009_bad.jpg"), "wb") as f:
    f.write(jpeg[:len(jpeg) // 2])
shutil.copy(os.path.join(imgs, "img0000.jpg"), os.path.join(imgs, "img0001_FAILS_EACCES.jpg"))
shutil.copy(os.path.join(imgs, "img0004.jpg"), os.path.join(imgs, "img0005_FAILS_EIO.jpg"))
# 13 files in name order, 4 per shard: img-00000 holds the EACCES file, img-00001 the EIO one,
# img-00002 only good images and img-00003 the corrupt one.
model = os.path.join(work, "dino")
tiny_model("dino", model, C=64, L=2, NH=4, img=56)
def embed(out, preload=None, expect=0):
    env = dict(ENV)
    if preload:
        env.update(LD_PRELOAD=preload, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    cmd = [BIN, "embed", "--model", model, "--input", imgs, "--output", out, "--batch", "3", "--shard-size", "4",
           "--preprocess", "square", "--resolution", "56", "--features", "cls,patch_mean", "--threads", "1"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=170)
    if p.returncode != expect:
        sys.stdout.write(p.stdout + p.stderr)
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {p.returncode}, expected {expect}")
    return p


def attrs(path):
    with h5py.File(path, "r") as f:
        return {k: f.attrs[k] for k in ("retry_count", "failure_count", "image_count")}, f["status"][:]


print("reference: a run with every file readable")
ref = os.path.join(work, "ref")
embed(ref)
want, names = read_shards(ref)
check(names == [f"img-{i:05d}.h5" for i in range(4)], f"4 shard files ({names})")

print("EACCES and EIO on two opens (fail_open.so)")
out = os.path.join(work, "out")
p = embed(out, preload=sys.argv[2], expect=2)
st = {n: attrs(os.path.join(out, f"img-{n:05d}.h5")) for n in range(4)}
for n, code in ((0, "Permission denied"), (1, "Input/output error")):
    (a, status) = st[n]
    check(a["retry_count"] == 1 and list(status).count(7) == 1,
          f"img-{n:05d}: written, one status-7 row, retry_count {a['retry_count']}")
    check(any(code in l and "read error, retry" in l for l in p.stderr.splitlines()),
          f"img-{n:05d}: the row's log line names '{code}' and 'read error, retry'")
    check(any(f"shard img-{n:05d} (" in l and "may heal" in l and "next run redoes it" in l
              for l in p.stderr.splitlines()), f"img-{n:05d}: the shard is reported as not finished")
    check(f"failed shard: img-{n:05d} (" in p.stderr, f"img-{n:05d}: listed in the summary (exit 2)")
(a, status) = st[3]
check(a["retry_count"] == 0 and list(status).count(3) == 1 and "failed shard: img-00003" not in p.stderr,
      "img-00003: the corrupt JPEG is a permanent decode error (status 3); the shard is finished")
mtime = os.stat(os.path.join(out, "img-00001.h5")).st_mtime_ns

print("still failing: the rerun redoes the two shards, the files stay until replaced")
p = embed(out, preload=sys.argv[2], expect=2)
check("2 already done" in p.stderr and p.stderr.count("could not be read for a reason that may heal (status 7") >= 4,
      "img-00002/3 skipped; img-00000/1 redone and reported again")
check(os.path.exists(os.path.join(out, "img-00001.h5")), "img-00001.h5 still there")

print("healed: the rerun without the preload")
p = embed(out)
redo = [l for l in p.stderr.splitlines() if "redoing it" in l]
check(len(redo) == 2 and all("may heal" in l for l in redo) and "2 already done" in p.stderr,
      f"exactly the two shards with status-7 rows redone ({len(redo)} redone)")
got, _ = read_shards(out)
diff = {k: float(np.max(np.abs(got[k].astype(np.float64) - want[k].astype(np.float64))))
        for k in ("cls", "patch_mean")}
check(all(np.array_equal(got[k], want[k]) for k in want), f"every dataset equals the clean run's (max abs diff {diff})")
check(os.stat(os.path.join(out, "img-00001.h5")).st_mtime_ns != mtime and
      attrs(os.path.join(out, "img-00001.h5"))[0]["retry_count"] == 0, "img-00001.h5 replaced, retry_count 0")
p = embed(out)
check("4 already done" in p.stderr, "a further rerun skips every shard")

finish("embed retry rows")
