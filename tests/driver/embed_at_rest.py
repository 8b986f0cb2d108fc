"""Finished results kept safe at rest and in a shared output directory (docs/output.md, "Crash
safety and resume"):
  - shard files damaged after they were written (bytes zeroed or randomised in the checksum
    block, the HDF5 superblock, an attribute's string, the feature data, the last byte; the file
    truncated) are found: `verify` names exactly those (exit 2) and passes the clean ones, `index`
    leaves them out and names them, h5py refuses the damaged data chunk (fletcher32), and a rerun
    of `embed` redoes exactly those, byte for byte as first written;
  - a symbolic link planted at a name the run writes (.lock, run.json, a shard file, a temporary
    file) stops the run (exit 1) naming it, and its target is never written; `verify` names a link
    at a shard's name; `index` replaces a link at index.h5 without writing through it;
  - a shard file held open by another process (HDF5's exclusive lock, or any writer) fails that
    shard as "in use" (exit 2); it is neither moved aside nor removed, and is kept once released;
  - the same inputs spelled differently (relative, ./, absolute, through a symlink; a tar pattern
    and a directory) resume; another input set whose shard names collide stops with exit 1 naming
    both, and with --overwrite redoes those shards from the new inputs.
usage: embed_at_rest.py WORKDIR"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

import h5py
import numpy as np

from embed_common import check, finish, make_images
from webssl_test import BIN, ENV, MPIRUN, fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = os.path.abspath(fresh_dir(sys.argv[1]))
model = os.path.join(work, "dino")
tiny_model("dino", model, C=48, NH=3)
def run(args, code, what, cwd=None):
    p = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=120, cwd=cwd)
    if p.returncode != code:
        sys.stdout.write(p.stdout[-2000:] + p.stderr[-3000:])
    check(p.returncode == code, f"{what}: exit {p.returncode} (expected {code})")
    return p.stdout + p.stderr


def embed(inp, out, *extra, code=0, what="", cwd=None):
    return run(MPIRUN + ["-np", "1", BIN, "embed", "--model", model, "--input", inp, "--output", out, "--batch", "2",
                         "--shard-size", "2", "--preprocess", "square", "--resolution", "28"] + list(extra),
               code, what, cwd)


def lines(text, needle):
    return [l for l in text.splitlines() if needle in l]


def make_tars(d, names, seed):
    make_images(os.path.join(d, ".src"), 2 * len(names), seed=seed)
    jpgs = sorted(os.path.join(d, ".src", n) for n in os.listdir(os.path.join(d, ".src")))
    for i, n in enumerate(names):
        with tarfile.open(os.path.join(d, n + ".tar"), "w") as tf:
            for j in range(2):
                tf.add(jpgs[2 * i + j], arcname=f"{n}{seed}_{j}.jpg")


def snapshot(out):
    return {n: open(os.path.join(out, n), "rb").read() for n in os.listdir(out) if n.endswith(".h5")}


# ---------------------------------------------------------------------------------------------
print("shard files damaged at rest")
names = ["zero-block", "rand-super", "zero-attr", "rand-data", "last-byte", "trunc-half", "trunc-block",
         "clean1", "clean2"]
data = os.path.join(work, "data")
os.makedirs(data)
make_tars(data, names, seed=1)
out = os.path.join(work, "out")
embed(os.path.join(data, "*.tar"), out, what="first run")
good = snapshot(out)
text = run([BIN, "verify", out], 0, "verify of the fresh run")
check(f"{len(names)} shard files checked" in text and "0 bad" in text, lines(text, "checked")[0][-90:] if lines(text, "checked") else text[-200:])
with open(os.path.join(out, "clean1.h5"), "rb") as f:
    head = f.read(512)
check(head.startswith(b"webssl-dist shard checksum 1\nsha256 ") and head.rstrip(b"\0").endswith(b"\n"),
      f"checksum block: {head[:100]!r}")
with h5py.File(os.path.join(out, "clean1.h5")) as f:
    filters = f["cls"]._filters
    check("fletcher32" in filters and f.userblock_size == 512, f"cls filters {list(filters)}, user block {f.userblock_size}")

rng = np.random.default_rng(0)


def overwrite(name, offset, n, zero):
    """Bytes [offset, offset + n) zeroed, or each changed to another random value."""
    with open(os.path.join(out, name + ".h5"), "r+b") as f:
        f.seek(offset)
        was = np.frombuffer(f.read(n), np.uint8)
        f.seek(offset)
        f.write(bytes(n) if zero else (was ^ rng.integers(1, 256, n, dtype=np.uint8)).tobytes())


def data_offset(name):
    """Where the first cls values are stored in the file."""
    with h5py.File(os.path.join(out, name + ".h5")) as f:
        first = f["cls"][:].tobytes()[:32]
    at = good[name + ".h5"].find(first)
    check(at > 512, f"cls data of {name} at offset {at}")
    return at


size = len(good["rand-data.h5"])
overwrite("zero-block", 40, 24, True)                  # inside the checksum block (the digest)
overwrite("rand-super", 512 + 8, 16, False)             # the HDF5 superblock
attr_at = good["zero-attr.h5"].find(b"webssl-dist manifest 1")   # an attribute's string (global heap)
check(attr_at > 512, f"manifest attribute bytes at offset {attr_at}")
overwrite("zero-attr", attr_at + 23, 8, True)
overwrite("rand-data", data_offset("rand-data") + 4, 32, False)   # feature data (a cls chunk)
overwrite("last-byte", size - 1, 1, False)
os.truncate(os.path.join(out, "trunc-half.h5"), size // 2)
os.truncate(os.path.join(out, "trunc-block.h5"), 300)
bad = [n for n in names if not n.startswith("clean")]
try:
    with h5py.File(os.path.join(out, "rand-data.h5")) as f:
        f["cls"][:]
    check(False, "h5py reads the damaged cls chunk")
except OSError as e:
    check("checksum" in str(e).lower() or "filter" in str(e).lower() or "read" in str(e).lower(),
          f"h5py refuses the damaged chunk: {str(e)[:100]}")

text = run([BIN, "verify", out], 2, "verify after the damage")
named = sorted(n for n in names if any(f"/{n}.h5" in l for l in lines(text, "bad: ")))
check(named == sorted(bad), f"verify names exactly the damaged files: {named}")
for l in lines(text, "bad: "):
    print("     ", l[-150:])

text = run([BIN, "index", out], 0, "index after the damage")
with h5py.File(os.path.join(out, "index.h5")) as f:
    indexed = sorted(x.decode() if isinstance(x, bytes) else x for x in f["shard_name"][:])
left = sorted(n for n in names if any(f"/{n}.h5" in l for l in lines(text, "left out")))
check(indexed == ["clean1.h5", "clean2.h5"] and left == sorted(bad),
      f"index holds {indexed}, names the damaged ones as left out: {left}")

text = embed(os.path.join(data, "*.tar"), out, what="rerun after the damage")
redone = sorted(n for n in names if lines(text, f"shard {n}: redoing it"))
check(redone == sorted(bad), f"the rerun redoes exactly the damaged shards: {redone}")
check(f"{len(bad)} shards written, 2 already done" in text, (lines(text, "summary: ") or ["no summary"])[0].split("summary: ")[-1][:60])
now = snapshot(out)
same = [n for n in names if now.get(n + ".h5") == good[n + ".h5"]]
check(len(same) == len(names), f"every shard file byte for byte as first written: {len(same)} of {len(names)}")
run([BIN, "verify", out], 0, "verify after the rerun")

# ---------------------------------------------------------------------------------------------
print("symbolic links planted in the output directory")
victim = os.path.join(work, "victim.txt")
with open(victim, "w") as f:
    f.write("precious")
os.utime(victim, ns=(10**9, 10**9))
small = os.path.join(work, "small")
os.makedirs(small)
make_tars(small, ["a", "b"], seed=2)
for link in (".lock", "run.json", "a.h5", ".a.h5.tmp.4242.0", "index.h5"):
    d = fresh_dir(os.path.join(work, "links", link.strip(".") or "x"))
    os.symlink(victim, os.path.join(d, link))
    text = embed(os.path.join(small, "*.tar"), d, code=1, what=f"a link at {link}")
    msg = lines(text, os.path.join(d, link))
    check(bool(msg) and ("symbolic link" in msg[0]), f"the error names the link: {(msg or ['(none)'])[0][-160:]}")
    st = os.stat(victim)
    check(open(victim).read() == "precious" and st.st_mtime_ns == 10**9, f"{link}: the link's target is untouched")
    check(os.path.islink(os.path.join(d, link)), f"{link}: the link itself is left for the user")
    if link == "a.h5":
        text = run([BIN, "verify", d], 2, "verify with a link at a.h5")
        check(any("a.h5" in l and "symbolic link" in l for l in lines(text, "bad: ")), "verify names the link")
d = os.path.join(work, "links", "idx")
embed(os.path.join(small, "*.tar"), d, what="a run to index")
os.symlink(victim, os.path.join(d, "index.h5"))
run([BIN, "index", d], 0, "index with a link at index.h5")
check(open(victim).read() == "precious" and not os.path.islink(os.path.join(d, "index.h5")),
      "index.h5 replaced the link; the target is untouched")

# ---------------------------------------------------------------------------------------------
print("a shard file held open by another process")
holders = {
    "an HDF5 writer's lock": "import fcntl, os, sys, time\n"
                             "fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
                             "print('held', flush=True); time.sleep(60)\n",
    "a plain writer": "import sys, time\nf = open(sys.argv[1], 'r+b')\nprint('held', flush=True); time.sleep(60)\n",
}
for what, code in holders.items():
    d = os.path.join(work, "inuse-" + what.split()[1].strip("'s"))
    embed(os.path.join(small, "*.tar"), d, what=f"{what}: first run")
    before = snapshot(d)
    h = subprocess.Popen([sys.executable, "-c", code, os.path.join(d, "a.h5")], stdout=subprocess.PIPE, text=True)
    h.stdout.readline()
    try:
        text = embed(os.path.join(small, "*.tar"), d, code=2, what=f"{what}: rerun while a.h5 is held")
    finally:
        h.kill()
        h.wait()
    msg = lines(text, "a.h5")
    check(any("in use" in l for l in msg), f"{what}: reported in use: {(msg or ['(none)'])[0][-140:]}")
    moved = [n for n in os.listdir(d) if ".moved." in n]
    check(not moved and snapshot(d) == before, f"{what}: not moved aside, not changed ({moved})")
    text = embed(os.path.join(small, "*.tar"), d, what=f"{what}: rerun once released")
    check("0 shards written, 2 already done" in text, f"{what}: kept: " + (lines(text, "summary: ") or ["?"])[0].split("summary: ")[-1][:60])

# ---------------------------------------------------------------------------------------------
print("the same inputs spelled differently; another input set")
io_ = os.path.join(work, "io")
os.makedirs(os.path.join(io_, "data"))
make_tars(os.path.join(io_, "data"), ["p", "q"], seed=3)
make_images(os.path.join(io_, "images"), 4, seed=4)
os.symlink("data", os.path.join(io_, "link"))
os.symlink("images", os.path.join(io_, "ilink"))
for kind, first, spellings in (
        ("tar pattern", "data/*.tar", ["./data/*.tar", os.path.join(io_, "data/*.tar"), "link/*.tar", "data//*.tar"]),
        ("directory", "images", ["images/", "./images", os.path.join(io_, "images"), "ilink/", "data/../images"])):
    o = os.path.join(io_, "out-" + kind.split()[0])
    embed(first, o, what=f"{kind}: {first}", cwd=io_)
    for sp in spellings:
        text = embed(sp, o, what=f"{kind}: {sp}", cwd=io_)
        check("0 shards written" in text and not lines(text, "redoing"),
              f"{kind}: {sp} resumes: " + (lines(text, "summary: ") or ["?"])[0].split("summary: ")[-1][:60])
    with open(os.path.join(o, "run.json")) as f:
        recorded = json.load(f)["input"]
    check(recorded.startswith(io_ + "/") and "link" not in recorded, f"{kind}: run.json input {recorded}")

other = os.path.join(io_, "other")
os.makedirs(other)
make_tars(other, ["p", "q"], seed=5)
o = os.path.join(io_, "out-tar")
before = snapshot(o)
text = embed("other/*.tar", o, code=1, what="another input set with the same shard names", cwd=io_)
msg = (lines(text, "run.json") or ["(none)"])[0]
check(os.path.join(io_, "other/*.tar") in msg and os.path.join(io_, "data/*.tar") in msg and "--overwrite" in msg,
      f"refused naming both: {msg[-260:]}")
check(snapshot(o) == before, "earlier results untouched")
text = embed("other/*.tar", o, "--overwrite", what="the same with --overwrite", cwd=io_)
with h5py.File(os.path.join(o, "p.h5")) as f:
    keys = list(f["key"].asstr()[:])
with open(os.path.join(o, "run.json")) as f:
    recorded = json.load(f)["input"]
check("2 shards written" in text and keys == ["p5_0", "p5_1"] and recorded == os.path.join(io_, "other/*.tar"),
      f"--overwrite redoes the colliding shards from the new inputs: {keys}, run.json input {recorded}")

finish("embed at rest")
