"""Bad input and setup errors of `webssl-dist embed`: each must stop every rank with exit status
1 (2 for failed shards) and a message naming the bad flag, file or rank, never hang:
bad flags, --tp not dividing the world or above the head count, --device cuda without CUDA,
an input spec matching nothing, an output path that cannot be a directory, a file size limit
(full disk: "No space left on device" naming the file, the rest left for a rerun, exit 2, none
looks complete), a tar shard that disappears
after the start, a second job on the same output directory, a changed configuration, --arch
that does not match the checkpoint, and one rank failing to load the model.
usage: embed_bad_input.py WORKDIR"""
import fcntl
import os
import shutil
import subprocess
import sys
import tarfile

from embed_common import make_images, run_embed
from webssl_test import BIN, ENV, MPIRUN, fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 6)
model = os.path.join(work, "dino")
tiny_model("dino", model, C=48, NH=3)
fails = 0


def expect(np_, argv, code, needle, tp=1, env=None, what=None):
    global fails
    p = run_embed(np_, argv, tp=tp, expect=code, env=env)
    ok = needle in p.stderr
    line = next((l for l in p.stderr.splitlines() if needle in l), p.stderr.strip().splitlines()[-1:] or [""])
    print(f"  {'ok  ' if ok else 'FAIL'} {what or needle}: exit {code}: {line if isinstance(line, str) else line[0]}")
    fails += 0 if ok else 1
    return p


def base(out, *extra):
    return ["--model", model, "--input", imgs, "--output", out, "--batch", "2", "--shard-size", "3",
            "--preprocess", "square", "--resolution", "28"] + list(extra)


out = os.path.join(work, "out")
print("flags")
for flag, value in (("--batch", "0"), ("--features", "cls,bogus"), ("--device", "gpu"), ("--dtype", "f16"),
                    ("--out-dtype", "bf16"), ("--preprocess", "wide"), ("--resolution", "-3"), ("--frobnicate", "1")):
    expect(2, base(out, flag, value), 1, flag, what=f"{flag} {value}")
expect(1, base(out, "--resolution", "30"), 1, "--resolution 30", what="resolution not a multiple of the patch")
print("topology")
expect(2, base(out), 1, "--tp 3 does not divide", tp=3)
expect(4, base(out), 1, "--tp 4 is larger than the 3 attention heads", tp=4)
print("device")
expect(1, base(out, "--device", "cuda"), 1, "--device cuda", what="--device cuda without a usable CUDA build")
print("inputs")
expect(2, base(out)[:2] + ["--input", os.path.join(work, "nothing-*.tar")] + base(out)[4:], 1, "nothing-*.tar",
       what="input matching nothing")
expect(1, base(out, "--arch", "tiny-mae"), 1, "tiny-mae", what="--arch not matching the checkpoint")
blocker = os.path.join(work, "a-file")
open(blocker, "w").close()
expect(2, base(os.path.join(blocker, "sub")), 1, "a-file/sub", what="output under a regular file")

print("full disk (a 64 KiB tmpfs in a private mount namespace)")
full = os.path.join(work, "full")
os.makedirs(full)
cmd = MPIRUN + ["-np", "2", BIN, "embed", "--tp", "1"] + \
      base(full, "--features", "cls,patch_mean,patch", "--out-dtype", "f32")
cmd[cmd.index("--resolution") + 1] = "112"
p = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0" || exit 99; "$@"; rc=$?; '
                    'ls -a "$0"; exit $rc', full] + cmd,
                   env=ENV, capture_output=True, text=True, timeout=120)
if p.returncode == 99:
    print(f"  skipped: cannot mount a tmpfs here ({p.stderr.strip()[:120]})")
else:
    named = [l for l in p.stderr.splitlines() if "error" in l and ".h5.tmp." in l]
    print(f"  exit {p.returncode}; " + (named[0] if named else "no error naming the file"))
    left = p.stdout.split()
    ok = p.returncode == 2 and bool(named) and "No space left on device" in named[0] and \
        "shards not written" in p.stderr and not [n for n in left if ".tmp." in n]
    print(f"  files left on the full disk: {left}")
    print(f"  {'ok  ' if ok else 'FAIL'} the run says No space left on device with the file named, exit 2")
    fails += 0 if ok else 1
print("a tar shard that disappears mid-run")
tars = os.path.join(work, "tars")
os.makedirs(tars)
for t in range(3):  # shard 0 is long, so the run is still on it when shard 2 is removed
    with tarfile.open(os.path.join(tars, f"{t:05d}.tar"), "w") as tf:
        for i in range(300 if t == 0 else 2):
            tf.add(os.path.join(imgs, f"img{i % 6:04d}.jpg"), arcname=f"s{t}_{i:04d}.jpg")
gone = os.path.join(tars, "00002.tar")
vo = os.path.join(work, "vanish-out")
# The wrapper removes shard 2 once shard 0's temporary file exists (the input was expanded).
wrapper = os.path.join(work, "vanish.sh")
with open(wrapper, "w") as f:
    f.write(f'#!/bin/sh\n"$@" & pid=$!\nn=0\nwhile ! ls {vo}/.00000.h5.tmp.* >/dev/null 2>&1 && [ $n -lt 3000 ]; '
            f'do sleep 0.01; n=$((n+1)); done\nrm -f {gone}\nwait $pid\n')
os.chmod(wrapper, 0o755)
p = subprocess.run(MPIRUN + ["-np", "1", wrapper, BIN, "embed"] +
                   ["--model", model, "--input", os.path.join(tars, "*.tar"), "--output", vo, "--batch", "1",
                    "--preprocess", "square", "--resolution", "28"], env=ENV, capture_output=True, text=True, timeout=120)
done = sorted(d for d in os.listdir(vo) if d.endswith(".h5"))
line = next((l for l in p.stderr.splitlines() if "00002" in l and "error" in l), "")
ok = p.returncode == 2 and done == ["00000.h5", "00001.h5"] and bool(line)
print(f"  {'ok  ' if ok else 'FAIL'} exit {p.returncode}, outputs {done}; {line}")
fails += 0 if ok else 1

print("output directory in use and configuration changes")
run_embed(1, base(out))
with open(os.path.join(out, ".lock"), "r+") as lk:
    fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
    expect(2, base(out), 1, "another job is writing", what="second job on the same directory")
expect(1, base(out, "--out-dtype", "f32"), 1, "out_dtype", what="changed --out-dtype refused")
expect(1, base(out, "--features", "cls"), 1, "features", what="changed --features refused")

print("one rank fails to load the model")
bad_model = os.path.join(work, "broken")
shutil.copytree(model, bad_model)
with open(os.path.join(bad_model, "model.safetensors"), "r+b") as f:
    f.truncate(1000)
wrapper = os.path.join(work, "rank1-bad.sh")
with open(wrapper, "w") as f:
    f.write('#!/bin/sh\nif [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then m=%s; else m=%s; fi\n' % (bad_model, model) +
            'exec "$@" --model "$m"\n')
os.chmod(wrapper, 0o755)
args = base(os.path.join(work, "out-rank1"))[2:]
p = subprocess.run(MPIRUN + ["-np", "2", wrapper, BIN, "embed", "--tp", "2"]
                   + args, env=ENV, capture_output=True, text=True, timeout=120)
line = next((l for l in p.stderr.splitlines() if "rank 1" in l and "broken" in l), "")
ok = p.returncode == 1 and bool(line)
print(f"  {'ok  ' if ok else 'FAIL'} exit {p.returncode}: {line}")
fails += 0 if ok else 1
print("embed bad input:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
