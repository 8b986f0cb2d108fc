"""Images that are images but cannot be decoded, inside a WebDataset tar, end to end through
`webssl-dist embed`, resume and `webssl-dist index` (docs/output.md, status 3 "decode error"):
a truncated JPEG, a JPEG with a corrupt Huffman table, a truncated PNG and a PNG with a zeroed
stretch (a chunk that is no chunk) between good images.
  - the run succeeds (exit 0): a bad image is a row, not a failed shard;
  - the HDF5 rows: the keys in tar order, status 3 for each bad image and 0 for the good ones,
    every feature of a bad row zero, the good rows equal (byte for byte) to those of a tar of
    the good images alone, failure_count 4; one log line `<shard>: <key>: decode error (...)`
    per bad image;
  - a rerun skips the shard and changes no byte; the index shows the same keys and statuses;
  - the tar rewritten with the images repaired: the rerun redoes the shard, every status 0.
Guards: a decoder that returns an error the pipeline does not map to "decode error" (a bad row
with status 1 or 4), a bad row whose features are not cleared, a bad image that ends its shard
or the run, an index or resume that drops or changes the failed rows.
usage: embed_decode_errors.py WORKDIR"""
import io
import os
import subprocess
import sys
import tarfile

import h5py
import numpy as np
from PIL import Image

from embed_common import check, file_bytes, finish, run_embed, work_with_model
from webssl_test import BIN, ENV  # tests/python, put on sys.path by embed_common

OK, DECODE = 0, 3
work, model = work_with_model(sys.argv[1])


def image(fmt, seed, h=44, w=52):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, (x + y) / (w + h)], -1) * 200
    a = np.clip(base + np.random.default_rng(seed).normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    b = io.BytesIO()
    Image.fromarray(a).save(b, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return b.getvalue()


def write_tar(path, members):
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


def embed(inp, out):
    return run_embed(1, ["--model", model, "--input", inp, "--output", out, "--batch", "2", "--preprocess", "square",
                         "--resolution", "28", "--features", "cls,patch_mean,patch"]).stderr


def rows(path):
    with h5py.File(path) as f:
        return ({k: f[k][:] for k in ("cls", "patch_mean", "patch", "status")} | {"key": list(f["key"].asstr()[:])},
                dict(f.attrs))


def bogus_huffman(j):
    """The JPEG j, every byte there, with its first Huffman table's 16 code counts set to 255 (more
    codes than the table can hold: libjpeg's "Bogus Huffman table definition")."""
    j = bytearray(j)
    i = j.index(b"\xff\xc4")
    j[i + 5:i + 21] = bytes([255] * 16)
    return bytes(j)


jpg, jpg2, png, png2 = image("JPEG", 1), image("JPEG", 2), image("PNG", 3), image("PNG", 4)
broken = {   # key: (member name, bytes); each is a recognised format with bad data
    "b": ("b.jpg", jpg2[: len(jpg2) // 2]),                              # JPEG cut in the entropy data
    "c": ("c.jpg", bogus_huffman(jpg2)),                                 # JPEG, every byte there, a bad Huffman table
    "d": ("d.png", png2[: len(png2) // 2]),                              # PNG cut inside IDAT
    "e": ("e.png", png2[:40] + b"\0" * 60 + png2[100:]),                 # PNG with a zeroed stretch (bad CRC)
}
good = [("a.jpg", jpg), ("f.png", png), ("g.jpg", jpg2)]
tars = os.path.join(work, "tars")
os.makedirs(tars)
write_tar(os.path.join(tars, "mixed.tar"), [good[0]] + list(broken.values()) + good[1:])
write_tar(os.path.join(tars, "clean.tar"), good)
out = os.path.join(work, "out")

print("a truncated and a corrupt JPEG and PNG in a tar")
err = embed(os.path.join(tars, "{mixed,clean}.tar"), out)
r, attrs = rows(os.path.join(out, "mixed.h5"))
c, _ = rows(os.path.join(out, "clean.h5"))
want_keys = ["a", "b", "c", "d", "e", "f", "g"]
want_status = [OK, DECODE, DECODE, DECODE, DECODE, OK, OK]
check(r["key"] == want_keys and list(r["status"]) == want_status, f"keys {r['key']}, status {list(r['status'])}")
bad = np.array([s != OK for s in want_status])
for k in ("cls", "patch_mean", "patch"):
    check(not np.any(r[k][bad]) and np.all(np.any(r[k][~bad].reshape(int((~bad).sum()), -1), axis=1)),
          f"{k}: every value of the bad rows zero, each good row non-zero")
    check(np.array_equal(r[k][~bad], c[k]), f"{k}: the good rows equal those of the tar without the bad images")
check(int(attrs["failure_count"]) == 4 and int(attrs["image_count"]) == 7,
      f"failure_count {attrs['failure_count']}, image_count {attrs['image_count']}")
for key in broken:
    line = next((l for l in err.splitlines() if f"mixed: {key}: decode error" in l), "")
    check(bool(line), f"log line for {key}: {line.strip()[:160]}")

print("resume and index")
before = file_bytes(out)
err = embed(os.path.join(tars, "{mixed,clean}.tar"), out)
check("0 shards written, 2 already done" in err and file_bytes(out) == before, "rerun skips both shards, no byte changed")
p = subprocess.run([BIN, "index", out], env=ENV, capture_output=True, text=True, timeout=60)
with h5py.File(os.path.join(out, "index.h5")) as f:
    keys, status = list(f["key"].asstr()[:]), list(f["status"][:])
    names, start = list(f["shard_name"].asstr()[:]), list(f["shard_start"][:])
    cls = f["cls"][:]
check(p.returncode == 0 and names == ["clean.h5", "mixed.h5"] and start == [0, 3, 10], f"index: {names} {start}")
check(keys == ["a", "f", "g"] + want_keys and status == [OK] * 3 + want_status,
      f"index rows: {list(zip(keys, status))[3:]}")
check(np.array_equal(cls[3:], r["cls"]), "index cls of mixed.tar equal to its shard file")

print("the images repaired: the shard is redone")
write_tar(os.path.join(tars, "mixed.tar"), [good[0]] + [(n, jpg2 if n.endswith("jpg") else png2)
                                                         for n, _ in broken.values()] + good[1:])
err = embed(os.path.join(tars, "{mixed,clean}.tar"), out)
r, attrs = rows(os.path.join(out, "mixed.h5"))
redo = next((l for l in err.splitlines() if "redoing it" in l), "")
check("1 shards written, 1 already done" in err and "shard mixed:" in redo, redo.strip()[:200])
check(r["key"] == want_keys and list(r["status"]) == [OK] * 7 and int(attrs["failure_count"]) == 0,
      f"every status 0: {list(r['status'])}")

finish("embed decode errors")
