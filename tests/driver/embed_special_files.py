"""Special files and vanishing inputs in `webssl-dist embed` (every run under a timeout, so a hang
fails the test instead of blocking it):
  - a FIFO named x.jpg in an input directory and as a list entry: a read-error row, exit 0;
    a FIFO named x.tar: that shard fails (exit 2); a FIFO as the @list file or as --model: exit 1
    naming it; `inspect` of a FIFO: an error, no hang; a FIFO at a shard's output name is moved
    aside, and `index` leaves one out;
  - an input directory removed mid-run: the shards that lost files fail (exit 2), no shard file
    holds a row for a vanished file, and the rerun with the directory back embeds everything;
  - symlinked images (and a symlink loop) in an input directory are followed;
  - a file name that is not UTF-8: the key is stored escaped and h5py reads every key as str;
  - stderr closed by its reader (a log pipe gone): the run goes on and exits 0;
  - --input given twice, run.json a directory, --resolution 7000 (memory), image_std 0 in
    preprocessor_config.json, a config.json syntax error (line and column named): exit 1 with a
    clear message; --resolution above the resize of a
    centre crop: a warning.
  - SIGTERM while the reader thread is stuck in an open that never returns (block_open.c, loaded
    with LD_PRELOAD): the run still stops with exit status 3 and leaves no shard file.
usage: embed_special_files.py WORKDIR [block_open.so]"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import h5py

from embed_common import make_images
from webssl_test import BIN, ENV, MPIRUN, fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
model = os.path.join(work, "dino")
tiny_model("dino", model, C=48, NH=3)
imgs = os.path.join(work, "img")
make_images(imgs, 6)
fails = 0
TIMEOUT = 60


def check(cond, what):
    global fails
    print(f"  {'ok  ' if cond else 'FAIL'} {what[-240:]}")
    fails += 0 if cond else 1


def run(cmd, code, what):
    """Run cmd under TIMEOUT; check the exit status; return stderr ("" after a timeout)."""
    try:
        p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        check(False, f"{what}: still running after {TIMEOUT} s (hang)")
        return ""
    if p.returncode != code:
        sys.stdout.write(p.stderr[-3000:])
    check(p.returncode == code, f"{what}: exit {p.returncode} (expected {code})")
    return p.stderr


def embed_args(inp, out, *extra, model_path=model):
    return ["embed", "--model", model_path, "--input", inp, "--output", out, "--batch", "2", "--shard-size", "3",
            "--preprocess", "square", "--resolution", "28"] + list(extra)


def embed(inp, out, *extra, code=0, what="", model_path=model):
    return run(MPIRUN + ["-np", "1", BIN] + embed_args(inp, out, *extra, model_path=model_path), code, what)


def line(err, needle):
    return next((l for l in err.splitlines() if needle in l), "").strip()


def rows(out):
    """{key: status} over every shard file of out."""
    r = {}
    for n in sorted(os.listdir(out)):
        if n.endswith(".h5"):
            with h5py.File(os.path.join(out, n)) as f:
                r.update(zip(f["key"].asstr()[:], f["status"][:]))
    return r


print("FIFOs")
fifo_dir = os.path.join(work, "fifo-img")
shutil.copytree(imgs, fifo_dir)
os.mkfifo(os.path.join(fifo_dir, "pipe.jpg"))
err = embed(fifo_dir, os.path.join(work, "o1"), what="FIFO in an input directory")
r = rows(os.path.join(work, "o1"))
check(r.get("pipe.jpg") == 1 and sum(v == 0 for v in r.values()) == 6, f"pipe.jpg a read-error row: {line(err, 'pipe.jpg')}")
lst = os.path.join(work, "list.txt")
with open(lst, "w") as f:
    f.write(os.path.join(imgs, "img0000.jpg") + "\n" + os.path.join(fifo_dir, "pipe.jpg") + "\n")
err = embed("@" + lst, os.path.join(work, "o2"), what="FIFO as a list entry")
check(sorted(rows(os.path.join(work, "o2")).values()) == [0, 1], line(err, "pipe.jpg"))
tars = os.path.join(work, "tars")
os.makedirs(tars)
with tarfile.open(os.path.join(tars, "a.tar"), "w") as tf:
    tf.add(os.path.join(imgs, "img0000.jpg"), arcname="k0.jpg")
os.mkfifo(os.path.join(tars, "b.tar"))
err = embed(os.path.join(tars, "*.tar"), os.path.join(work, "o3"), code=2, what="FIFO named b.tar")
check("FIFO" in line(err, "b.tar"), line(err, "FIFO"))
os.mkfifo(os.path.join(work, "list-fifo.txt"))
err = embed("@" + os.path.join(work, "list-fifo.txt"), os.path.join(work, "o4"), code=1, what="FIFO as the @list file")
check("FIFO" in line(err, "list-fifo.txt"), line(err, "list-fifo"))
os.mkfifo(os.path.join(work, "model-fifo"))
err = embed(imgs, os.path.join(work, "o5"), code=1, what="FIFO as --model", model_path=os.path.join(work, "model-fifo"))
check("FIFO" in line(err, "model-fifo"), line(err, "model-fifo"))
err = run([BIN, "inspect", os.path.join(work, "model-fifo")], 1, "inspect of a FIFO")
check("FIFO" in err, line(err, "FIFO"))

fo = os.path.join(work, "o16")
os.makedirs(fo)
os.mkfifo(os.path.join(fo, "img-00000.h5"))
embed(imgs, fo, what="FIFO at a shard's output name")
check(len([n for n in os.listdir(fo) if n.startswith("img-00000.h5.moved.")]) == 1 and len(rows(fo)) == 6,
      f"moved aside, shard redone: {sorted(os.listdir(fo))}")
os.mkfifo(os.path.join(fo, "zz.h5"))
err = run([BIN, "index", fo], 0, "index of a directory holding a FIFO named zz.h5")

print("an input directory that vanishes mid-run")
many = os.path.join(work, "many")
make_images(many, 30)
keep = os.path.join(work, "many-copy")
shutil.copytree(many, keep)
vo = os.path.join(work, "vanish-out")
wrapper = os.path.join(work, "vanish.sh")
with open(wrapper, "w") as f:  # removes the directory once the first shard's temporary file exists
    f.write(f'#!/bin/sh\n"$@" & pid=$!\nn=0\nwhile ! ls {vo}/.many-00000.h5.tmp.* >/dev/null 2>&1 && [ $n -lt 3000 ]; '
            f'do sleep 0.01; n=$((n+1)); done\nrm -rf {many}\nwait $pid\n')
os.chmod(wrapper, 0o755)
err = run(MPIRUN + ["-np", "1", wrapper, BIN] + embed_args(many, vo, "--shard-size", "10", "--batch", "1"), 2,
          "directory removed mid-run")
r = rows(vo)
check(all(v == 0 for v in r.values()) and len(r) < 30, f"no rows for vanished files ({len(r)} rows kept)")
check("vanished since it was listed" in err and "failed shard: many-00002" in err,
      f"later shards fail: {line(err, 'vanished since')}")
check("changed while it was read" in err or "many-00000.h5" in os.listdir(vo),
      f"the shard being read fails unless it was read whole: {line(err, 'changed while it was read')}")
shutil.copytree(keep, many)
embed(many, vo, "--shard-size", "10", "--batch", "1", what="rerun with the directory back")
r = rows(vo)
check(len(r) == 30 and all(v == 0 for v in r.values()), f"all 30 images embedded: {len(r)} rows")

print("symlinks")
links = os.path.join(work, "links")
os.makedirs(os.path.join(links, "sub"))
for n in sorted(os.listdir(imgs))[:4]:
    os.symlink(os.path.join(imgs, n), os.path.join(links, "sub", n))
os.symlink(links, os.path.join(links, "sub", "loop"))
os.symlink(os.path.join(work, "nothing.jpg"), os.path.join(links, "dangling.jpg"))
err = embed(links, os.path.join(work, "o6"), what="directory of symlinks with a loop")
r = rows(os.path.join(work, "o6"))
check(sorted(r) == [f"sub/img{i:04d}.jpg" for i in range(4)] and all(v == 0 for v in r.values()),
      f"followed once each: {sorted(r)}; {line(err, 'dangling')}")

print("a file name that is not UTF-8")
odd = os.path.join(work, "odd")
os.makedirs(odd)
shutil.copy(os.path.join(imgs, "img0000.jpg"), os.path.join(odd.encode(), b"caf\xe9.jpg"))
embed(odd, os.path.join(work, "o7"), what="latin-1 file name")
with h5py.File(os.path.join(work, "o7", "odd-00000.h5")) as f:
    keys = list(f["key"].asstr()[:])
check(keys == ["caf\\xe9.jpg"], f"key stored escaped: {keys}")
raw = re.sub(rb"\\(\\|x[0-9a-f]{2})", lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]),
             keys[0].encode())
check(raw == b"caf\xe9.jpg", f"unescaped to the file name's bytes: {raw}")

print("stderr closed by its reader")
so = os.path.join(work, "o8")
p = subprocess.Popen([BIN] + embed_args(many, so, "--batch", "1"), env=dict(ENV, WEBSSL_PROGRESS_SECONDS="0"),
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
p.stderr.close()
try:
    rc = p.wait(timeout=TIMEOUT)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "hang"
check(rc == 0 and len(rows(so)) == 30, f"exit {rc} (141 is SIGPIPE), {len(rows(so))} rows")

print("usage")
err = run(MPIRUN + ["-np", "1", BIN] + embed_args(imgs, os.path.join(work, "o9"), "--input", many), 1, "--input twice")
check("given twice" in err, line(err, "twice"))
os.makedirs(os.path.join(work, "o10", "run.json"))
err = embed(imgs, os.path.join(work, "o10"), code=1, what="run.json a directory")
check("not a regular file" in err, line(err, "run.json"))

print("a stop signal while an open never returns (hung network file system)")
if len(sys.argv) < 3:
    print("  skipped: no open-blocking library given")
else:
    blk = os.path.join(work, "blocked")
    make_images(blk, 2)
    shutil.copy(os.path.join(blk, "img0000.jpg"), os.path.join(blk, "BLOCKS_FOREVER.jpg"))  # sorts first
    bo = os.path.join(work, "o15")
    env = dict(ENV, LD_PRELOAD=sys.argv[2],
               ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    p = subprocess.Popen([BIN] + embed_args(blk, bo, "--batch", "1"), env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()   # wait until the shard is open (its temporary file exists)
    while time.time() - t0 < TIMEOUT and not (os.path.isdir(bo) and [n for n in os.listdir(bo) if ".tmp." in n]):
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    t1 = time.time()
    try:
        _, err = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        rc = "hang"
    left = sorted(os.listdir(bo))
    check(rc == 3 and not [n for n in left if n.endswith(".h5") or ".tmp." in n],
          f"exit {rc} {time.time() - t1:.1f} s after SIGTERM; files left {left}; {line(err, 'blocked')}")

print("setup checks")
err = embed(imgs, os.path.join(work, "o11"), "--resolution", "7000", code=1, what="--resolution 7000")
check("--resolution 7000" in err and "GiB" in err, line(err, "--resolution 7000"))
zero_std = os.path.join(work, "dino-std0")
shutil.copytree(model, zero_std)
with open(os.path.join(zero_std, "preprocessor_config.json"), "w") as f:
    f.write('{"image_mean": [0.5, 0.5, 0.5], "image_std": [0.0, 0.2, 0.2], "size": {"height": 28, "width": 28}, '
            '"do_center_crop": false}')
err = embed(imgs, os.path.join(work, "o12"), code=1, what="image_std 0 in preprocessor_config.json", model_path=zero_std)
check("image_std" in line(err, "preprocessor_config.json"), line(err, "image_std"))
bad_json = os.path.join(work, "dino-badjson")
shutil.copytree(model, bad_json)
with open(os.path.join(bad_json, "config.json")) as f:
    cfg = f.read()
with open(os.path.join(bad_json, "config.json"), "w") as f:
    f.write(cfg.replace('"hidden_size": 48,', '"hidden_size": 48,,', 1))
want = next(i for i, l in enumerate(cfg.splitlines()) if '"hidden_size"' in l) + 1
err = embed(imgs, os.path.join(work, "o14"), code=1, what="config.json syntax error", model_path=bad_json)
check(f"line {want}, column" in line(err, "config.json"), line(err, "config.json"))
err = embed(imgs, os.path.join(work, "o13"), "--preprocess", "crop", "--resize", "28", "--resolution", "56",
            what="--resolution above the resize")
check("pads" in err, line(err, "pads"))

print("embed special files:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
