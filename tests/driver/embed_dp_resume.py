"""Data parallelism, resume, interruption and the index, for `webssl-dist embed` on a tiny
transformers model over a directory of JPEGs split into shards:
  - dp invariance: dp = 2 (tp 1) and dp = 2 x tp 2 write byte-identical shard files to dp = 1
    at the same tp (creation time fixed with SOURCE_DATE_EPOCH);
  - resume: the same command again skips every shard and changes no byte;
  - SIGKILL of one rank mid-run, then a rerun: byte-identical to the uninterrupted run, no
    temporary file left;
  - SIGTERM to every rank mid-run: exit status 3, no incomplete file under a final name, no
    temporary file; the rerun completes byte-identically;
  - corrupt and truncated outputs from an older crash are detected and redone;
  - `webssl-dist index DIR`: h5py reads key and cls of every image through index.h5.
usage: embed_dp_resume.py WORKDIR"""
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from embed_common import embed_cmd, file_bytes, make_images, read_shards, run_embed, temp_files
from webssl_test import BIN, ENV, fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 48, bad=["img0005_bad.jpg"])
model = os.path.join(work, "dino")
tiny_model("dino", model, C=192, L=6, NH=4, img=224)
fails = 0


def check(cond, what):
    global fails
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    fails += 0 if cond else 1


def args(out, *extra):
    return ["--model", model, "--input", imgs, "--output", out, "--batch", "2", "--shard-size", "4",
            "--preprocess", "square", "--resolution", "112", "--features", "cls,patch_mean,patch",
            "--threads", "1"] + list(extra)


def same_bytes(a, b, what):
    fa, fb = file_bytes(a), file_bytes(b)
    diff = sorted(n for n in fa.keys() | fb.keys() if fa.get(n) != fb.get(n))
    check(not diff and fa, f"{what}: {len(fa)} shard files byte-identical" + (f" (differ: {diff[:4]})" if diff else ""))


def rank_pids(mpirun_pid):
    """{world rank: pid} of the webssl-dist processes started by mpirun."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != mpirun_pid or os.path.realpath(f"/proc/{d}/exe") != os.path.realpath(BIN):
                continue
            with open(f"/proc/{d}/environ", "rb") as f:
                env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
            out[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(d)
        except (OSError, ValueError, KeyError, IndexError):
            pass
    return out


def interrupt(out, np_, sig, ranks):
    """Start a run, wait until its first shard is written, send `sig` to `ranks`; return exit code."""
    p = subprocess.Popen(embed_cmd(np_, args(out)), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if os.path.isdir(out) and any(n.endswith(".h5") and not n.startswith(".") for n in os.listdir(out)):
            break
        time.sleep(0.01)
    pids = rank_pids(p.pid)
    for r in ranks:
        if r in pids:
            os.kill(pids[r], sig)
    log, _ = p.communicate(timeout=120)
    done = [n for n in os.listdir(out) if n.endswith(".h5") and not n.startswith(".")]
    print(f"  signal {sig} to ranks {ranks} (pids {pids}) after {time.time() - t0:.2f} s: exit {p.returncode}, "
          f"{len(done)} of 13 shards written")
    return p.returncode, log, len(done)


print("reference: dp 1, tp 1 and tp 2")
ref1, ref2 = os.path.join(work, "ref-tp1"), os.path.join(work, "ref-tp2")
t0 = time.time()
run_embed(1, args(ref1))
print(f"  dp 1 tp 1: {time.time() - t0:.1f} s")
run_embed(2, args(ref2), tp=2)
data, names = read_shards(ref1)
check(len(names) == 13 and len(data["key"]) == 49, f"{len(names)} shards, {len(data['key'])} rows")

print("dp invariance")
out = os.path.join(work, "dp2-tp1")
run_embed(2, args(out))
same_bytes(ref1, out, "dp 2 x tp 1 vs dp 1 x tp 1")
out = os.path.join(work, "dp2-tp2")
run_embed(4, args(out), tp=2)
same_bytes(ref2, out, "dp 2 x tp 2 vs dp 1 x tp 2")

print("resume")
before = {n: os.stat(os.path.join(ref1, n)).st_mtime_ns for n in names}
p = run_embed(2, args(ref1))
after = {n: os.stat(os.path.join(ref1, n)).st_mtime_ns for n in names}
check(before == after and "13 already done" in p.stderr, "rerun skipped every shard and rewrote nothing")

print("SIGKILL one rank mid-run, then rerun")
out = os.path.join(work, "killed")
code, log, done = interrupt(out, 2, signal.SIGKILL, [1])
check(code != 0 and done < 13, f"the killed run stopped early (exit {code}, {done} shards)")
p = run_embed(2, args(out))
same_bytes(ref1, out, "after SIGKILL + rerun")
check(not temp_files(out), f"no temporary file left ({temp_files(out)})")

print("SIGTERM every rank mid-run")
out = os.path.join(work, "terminated")
code, log, done = interrupt(out, 2, signal.SIGTERM, [0, 1])
check(code == 3, f"exit status 3 on SIGTERM (got {code})")
check(not temp_files(out), f"no temporary file left ({temp_files(out)})")
for n in os.listdir(out):
    if n.endswith(".h5"):
        with h5py.File(os.path.join(out, n)) as f:
            check(f.attrs["complete"] == 1 and len(f["key"]) == f.attrs["image_count"], f"{n} is complete")
run_embed(2, args(out))
same_bytes(ref1, out, "after SIGTERM + rerun")

print("corrupt outputs from an older crash")
out = os.path.join(work, "corrupt")
shutil.copytree(ref1, out)
with open(os.path.join(out, names[0]), "wb") as f:
    f.write(b"garbage")
raw = open(os.path.join(ref1, names[1]), "rb").read()
with open(os.path.join(out, names[1]), "wb") as f:
    f.write(raw[: len(raw) // 2])
p = run_embed(1, args(out))
check("2 shards written" in p.stderr, "both damaged files were redone")
same_bytes(ref1, out, "after redoing damaged files")

print("index")
p = subprocess.run([BIN, "index", ref1], env=ENV, capture_output=True, text=True)
check(p.returncode == 0, f"index: {p.stdout.strip()} {p.stderr.strip()}")
with h5py.File(os.path.join(ref1, "index.h5")) as f:
    cls, keys, pm = f["cls"][:], f["key"][:], f["patch_mean"][:]
    check(cls.dtype == np.float16 and np.array_equal(cls, data["cls"]), f"index cls {cls.shape} {cls.dtype} equals the shards'")
    check(list(keys) == list(data["key"]) and np.array_equal(pm, data["patch_mean"]), "index key and patch_mean")
    check(list(f["shard_start"][:]) == list(np.cumsum([0] + [4] * 12 + [1])), f"shard_start {list(f['shard_start'][:])}")
print("embed dp/resume/signals:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
