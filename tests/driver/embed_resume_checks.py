"""What a resumed `webssl-dist embed` checks before it skips a finished shard (docs/output.md,
"Crash safety and resume"), each against a run into the same output directory:
  - every shard file holds its manifest (attribute, digest) and a rerun skips current shards;
  - an image added to an input directory: the shards whose members changed are redone, the
    others skipped, and every image ends up embedded once; an image rewritten in place: its
    shard is redone, the log names the file;
  - a list entry naming a file that does not exist: a read-error row; redone once it exists;
  - a tar replaced by another tar of the same name is redone;
  - a 0-byte tar fails (exit 2, no output); when the real tar arrives the rerun embeds it;
  - weights replaced at the same --model path: refused, naming the changed file;
  - a shard file copied under another shard's name, and one of another out dtype: redone;
  - a user's file under a shard's name is moved aside, not deleted; unrelated dotfiles with
    ".tmp." in their names are kept;
  - a tar named index.tar fails (its output would be index.h5); a tar whose name starts with a
    dot is indexed by `webssl-dist index`.
usage: embed_resume_checks.py WORKDIR"""
import os
import shutil
import subprocess
import sys
import tarfile

import h5py

from embed_common import make_images
from webssl_test import BIN, ENV, MPIRUN, fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
model = os.path.join(work, "dino")
tiny_model("dino", model, C=48, NH=3)
fails = 0


def check(cond, what):
    global fails
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    fails += 0 if cond else 1


def embed(inp, out, *extra, code=0, what=""):
    """Run embed on one rank; check the exit status; return stderr."""
    cmd = MPIRUN + ["-np", "1", BIN, "embed", "--model", model, "--input", inp, "--output", out, "--batch", "2",
                    "--shard-size", "3", "--preprocess", "square", "--resolution", "28"] + list(extra)
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    if p.returncode != code:
        sys.stdout.write(p.stderr[-3000:])
    check(p.returncode == code, f"{what}: exit {p.returncode} (expected {code})")
    return p.stderr


def line(err, needle):
    return next((l for l in err.splitlines() if needle in l), "")


def shard_keys(out):
    keys = []
    for n in sorted(os.listdir(out)):
        if n.endswith(".h5") and n != "index.h5":
            with h5py.File(os.path.join(out, n)) as f:
                keys += list(f["key"].asstr()[:])
    return keys


def make_tar(path, images, prefix):
    with tarfile.open(path, "w") as tf:
        for i, src in enumerate(images):
            tf.add(src, arcname=f"{prefix}{i:03d}.jpg")


print("manifest stored; rerun skips")
imgs = os.path.join(work, "img")
make_images(imgs, 6)
out = os.path.join(work, "out")
embed(imgs, out, what="first run")
with h5py.File(os.path.join(out, "img-00000.h5")) as f:
    m = f.attrs["manifest"]
    check(m.startswith("webssl-dist manifest 1\nsource\t") and "img0001.jpg\t" in m and len(f.attrs["manifest_digest"]) == 64,
          f"manifest attribute: {m.splitlines()[2]!r}...")
err = embed(imgs, out, what="rerun")
check("0 shards written, 2 already done" in err, line(err, "summary: ") or "summary line")

print("an image added to the directory, one rewritten in place")
make_images(os.path.join(work, "extra"), 8, seed=5)
shutil.copy(os.path.join(work, "extra", "img0007.jpg"), os.path.join(imgs, "img0002b.jpg"))
err = embed(imgs, out, what="rerun after adding img0002b.jpg")
check("1 shards written, 1 already done" in err or "2 shards written, 1 already done" in err,
      line(err, "summary: "))
redo = line(err, "redoing it")
check("img-00001" in redo and "img0002b.jpg" in redo, f"log names the change: {redo.strip()[:200]}")
keys = shard_keys(out)
check(sorted(keys) == sorted(os.listdir(imgs)) and len(keys) == 7, f"every image embedded once: {len(keys)} rows")
shutil.copy(os.path.join(work, "extra", "img0006.jpg"), os.path.join(imgs, "img0000.jpg"))
err = embed(imgs, out, what="rerun after rewriting img0000.jpg")
redo = line(err, "redoing it")
check("img-00000" in redo and "img0000.jpg" in redo and "2 already done" in err, f"only shard 0 redone: {redo.strip()[:200]}")

print("a list entry that does not exist yet")
lst = os.path.join(work, "list.txt")
late = os.path.join(work, "late.jpg")
with open(lst, "w") as f:
    f.write(os.path.join(imgs, "img0001.jpg") + "\n" + late + "\n")
lout = os.path.join(work, "lout")
embed("@" + lst, lout, what="list with a missing entry")
with h5py.File(os.path.join(lout, "list-00000.h5")) as f:
    check(list(f["status"][:]) == [0, 1] and late + "\tmissing" in f.attrs["manifest"], "a read-error row, 'missing' in the manifest")
shutil.copy(os.path.join(imgs, "img0002.jpg"), late)
err = embed("@" + lst, lout, what="rerun once the file exists")
with h5py.File(os.path.join(lout, "list-00000.h5")) as f:
    check(list(f["status"][:]) == [0, 0] and "missing" in line(err, "redoing it"), line(err, "redoing it").strip()[:200])

print("tar replaced by another of the same name; 0-byte tar")
tars = os.path.join(work, "tars")
os.makedirs(tars)
jpgs = sorted(os.path.join(imgs, n) for n in os.listdir(imgs))
make_tar(os.path.join(tars, "a.tar"), jpgs[:2], "x")
open(os.path.join(tars, "b.tar"), "wb").close()
tout = os.path.join(work, "tout")
err = embed(os.path.join(tars, "*.tar"), tout, code=2, what="0-byte b.tar")
check("0-byte" in line(err, "b.tar") and not os.path.exists(os.path.join(tout, "b.h5")),
      f"b.tar failed, no output: {line(err, '0-byte').strip()[:160]}")
make_tar(os.path.join(tars, "b.tar"), jpgs[2:5], "y")
make_tar(os.path.join(tars, "a.tar"), jpgs[3:6], "z")
os.utime(os.path.join(tars, "a.tar"), ns=(1, 1))
err = embed(os.path.join(tars, "*.tar"), tout, what="rerun with the real b.tar and a replaced a.tar")
check("2 shards written" in err and "shard a:" in line(err, "redoing it"), line(err, "redoing it").strip()[:200])
keys = shard_keys(tout)
check(keys == ["z000", "z001", "z002", "y000", "y001", "y002"], f"keys of the new tars: {keys}")

print("weights replaced at the same --model path")
tiny_model("dino", model, C=48, NH=3, seed=7)
err = embed(os.path.join(tars, "*.tar"), tout, code=1, what="changed weights")
msg = line(err, "weights")
check("weights.model.safetensors" in msg, f"refused naming the file: {msg.strip()[:220]}")
tiny_model("dino", model, C=48, NH=3)
embed(os.path.join(tars, "*.tar"), tout, what="original weights back: resumes")

print("shard files that do not belong: copied under another name, another dtype")
shutil.copy(os.path.join(tout, "a.h5"), os.path.join(tout, "b.h5"))
err = embed(os.path.join(tars, "*.tar"), tout, what="a.h5 copied onto b.h5")
check("b.tar" in line(err, "redoing it") and "made from" in line(err, "redoing it"),
      line(err, "redoing it").strip()[:200])
f32 = os.path.join(work, "f32")
embed(os.path.join(tars, "*.tar"), f32, "--out-dtype", "f32", what="an f32 run")
shutil.copy(os.path.join(f32, "a.h5"), os.path.join(tout, "a.h5"))
err = embed(os.path.join(tars, "*.tar"), tout, what="f32 file in an f16 run")
check("type" in line(err, "redoing it"), line(err, "redoing it").strip()[:200])

print("files of the user in the output directory")
user = os.path.join(out, "img-00002.h5")
with open(user, "w") as f:
    f.write("my notes")
for n in (".notes.tmp.txt", ".img-00000.h5.tmp.4242.0", ".index.h5.tmp.4242"):
    with open(os.path.join(out, n), "w") as f:
        f.write("keep me" if "notes" in n else "left by a crash")
err = embed(imgs, out, what="rerun with a user's file at a shard's name")
moved = [n for n in os.listdir(out) if n.startswith("img-00002.h5.moved.")]
check(len(moved) == 1 and open(os.path.join(out, moved[0])).read() == "my notes", f"moved aside: {moved}")
left = sorted(n for n in os.listdir(out) if ".tmp." in n)
check(left == [".notes.tmp.txt"], f"temporary files of crashed runs removed, unrelated .notes.tmp.txt kept: {left}")

print("reserved and hidden shard names")
names = os.path.join(work, "names")
os.makedirs(names)
make_tar(os.path.join(names, "index.tar"), jpgs[:1], "i")
make_tar(os.path.join(names, ".hidden.tar"), jpgs[1:2], "h")
nout = os.path.join(work, "nout")
err = embed(os.path.join(names, "{index,.hidden}.tar"), nout, code=2, what="index.tar")
check("reserved" in line(err, "index"), line(err, "reserved").strip()[:200])
p = subprocess.run([BIN, "index", nout], env=ENV, capture_output=True, text=True, timeout=60)
with h5py.File(os.path.join(nout, "index.h5")) as f:
    check(p.returncode == 0 and list(f["key"].asstr()[:]) == ["h000"], f"index holds .hidden: exit {p.returncode}")

print("embed resume checks:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
