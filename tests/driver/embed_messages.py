"""Clear messages, early, for `webssl-dist embed`, `index` and `bench` on a tiny model:
  - a full output file system (a small tmpfs; skipped where it cannot be mounted): the run says
    "No space left on device" with the path, takes no new shard, keeps every finished shard
    complete, leaves no temporary file and exits 2; after space is freed the same command
    finishes the rest (the kept shards are skipped, not redone);
  - `index` names every file it leaves out and why, and the shards DIR/shards.txt lists that
    have no file; --strict makes that exit 2;
  - SIGHUP stops a run like SIGTERM (exit 3, resumable; the run is kept from finishing first by
    an input whose open never returns, block_open.c loaded with LD_PRELOAD);
  - more than 256 compute threads (--threads 300, OMP_NUM_THREADS=300) run and give the same
    features as 1 thread;
  - config.json values out of range stop the setup with exit 1 naming the file, key and value;
  - `bench --json PATH` refuses an unwritable PATH before it runs (exit 1);
  - a rerun with another --image-ext is refused (run.json), and so is a rerun with the default
    after a run with another (every field run.json records is compared, not only those this run
    sets); the default spelt out, or a run.json of an older version that left default fields out,
    resumes.
usage: embed_messages.py WORKDIR [block_open.so]"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from embed_common import check, embed_cmd, finish, make_images, read_shards, run_embed, temp_files
from webssl_test import BIN, ENV, fresh_dir, tiny_model  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 40)
model = os.path.join(work, "dino")
tiny_model("dino", model, C=64, L=2, NH=4, img=56)
def args(out, *extra):
    return ["--model", model, "--input", imgs, "--output", out, "--batch", "2", "--shard-size", "2",
            "--preprocess", "square", "--resolution", "56", "--features", "cls,patch_mean,patch",
            "--threads", "1"] + list(extra)


def shard_files(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".h5") and not n.startswith(".") and n != "index.h5")


def complete(path):
    with h5py.File(path) as f:
        return f.attrs["complete"] == 1 and len(f["key"]) == f.attrs["image_count"]


def line(text, needle):
    return next((ln for ln in text.splitlines() if needle in ln), f"(no line with {needle!r})")


print("reference run")
ref = os.path.join(work, "ref")
run_embed(1, args(ref))
ref_data, ref_names = read_shards(ref)
check(len(ref_names) == 20, f"{len(ref_names)} shards of 2 images")
p = run_embed(1, args(ref, "--image-ext", "png;jpg"), expect=1)
check("image_ext" in line(p.stderr, "run.json"), f"another --image-ext is refused on resume: {line(p.stderr, 'run.json')}")
p = run_embed(1, args(ref, "--image-ext", "jpg;jpeg;png;webp;bmp;gif"))
check("0 shards written, 20 already done" in p.stderr, "the default --image-ext spelt out resumes")
ext = os.path.join(work, "ext")
run_embed(1, args(ext, "--image-ext", "jpg"))
p = run_embed(1, args(ext), expect=1)
msg = line(p.stderr, "run.json")
check("image_ext is \"jpg;jpeg;png;webp;bmp;gif\"" in msg and "used \"jpg\"" in msg,
      f"the default --image-ext after --image-ext jpg is refused, naming both: {msg}")
with open(os.path.join(ext, "run.json")) as f:   # as an older version wrote it: defaults left out
    old = {k: v for k, v in json.load(f).items() if k not in ("image_ext", "allreduce")}
with open(os.path.join(ext, "run.json"), "w") as f:
    json.dump(old, f)
p = run_embed(1, args(ext))
check("0 shards written, 20 already done" in p.stderr, "a run.json without the default fields resumes with the defaults")
p = run_embed(1, args(ext, "--image-ext", "jpg"), expect=1)
msg = line(p.stderr, "run.json")
check("image_ext is \"jpg\"" in msg and "used \"jpg;jpeg;png;webp;bmp;gif\"" in msg,
      f"... and refuses another --image-ext, naming the default it stands for: {msg}")

print("full file system")
disk = os.path.join(work, "disk")
os.makedirs(disk, exist_ok=True)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", disk], capture_output=True,
                         text=True).returncode == 0
if not mounted:
    print("  skipped: cannot mount a small tmpfs here (needs root and mount permission)")
else:
    try:
        out = os.path.join(disk, "out")
        p = run_embed(1, args(out), expect=2)
        done = shard_files(out)
        check("No space left on device" in p.stderr and out in line(p.stderr, "No space left on device"),
              f"names the cause and the path: {line(p.stderr, 'No space left on device')}")
        check(0 < len(done) < 20, f"{len(done)} of 20 shards finished before the disk filled")
        check(all(complete(os.path.join(out, n)) for n in done), "every finished shard is complete")
        check(not temp_files(out), f"no temporary file left ({temp_files(out)})")
        hit = {ln.split("shard ", 1)[1].split(":", 1)[0] for ln in p.stderr.splitlines()
               if "No space left on device" in ln and "shard " in ln}
        check(1 <= len(hit) <= 2, f"no new shard taken after the first failed write (shards that failed to write: "
              f"{sorted(hit)}; at most the 2 read ahead)")
        check("taking no new shard" in p.stderr and "run the same command again" in p.stderr,
              "says that the rest is left for a rerun")

        print("index of the partial directory")
        filler = os.path.join(disk, "filler")   # what the failed shard freed, taken again
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        os.close(fd)
        q = subprocess.run([BIN, "index", out], env=ENV, capture_output=True, text=True)
        os.unlink(filler)
        check(q.returncode == 1 and "No space left on device" in q.stderr and "index.h5" in q.stderr,
              f"on the full disk: exit {q.returncode}, {line(q.stderr, 'No space')}")
        subprocess.run(["mount", "-o", "remount,size=16m", disk], check=True)   # space freed
        with open(os.path.join(out, "notes.txt"), "w") as f:
            f.write("not a shard")
        q = subprocess.run([BIN, "index", out], env=ENV, capture_output=True, text=True)
        missing = [ln for ln in q.stderr.splitlines() if "missing shard" in ln]
        check(q.returncode == 0 and len(missing) == 20 - len(done),
              f"index exit {q.returncode}, {len(missing)} missing shards named (want {20 - len(done)}): "
              f"{missing[:1]}")
        check(f"left out {out}/notes.txt: not a shard file" in q.stderr, line(q.stderr, "notes.txt"))
        q = subprocess.run([BIN, "index", "--strict", out], env=ENV, capture_output=True, text=True)
        check(q.returncode == 2, f"index --strict: exit {q.returncode} (2 wanted)")
        os.unlink(os.path.join(out, "notes.txt"))

        print("space freed: the same command finishes the rest")
        before = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in done}
        p = run_embed(1, args(out))
        data, names = read_shards(out)
        check(names == ref_names and all(np.array_equal(data[k], ref_data[k]) for k in ref_data),
              f"{len(names)} shards, features equal to the uninterrupted run")
        check(all(os.stat(os.path.join(out, n)).st_mtime_ns == before[n] for n in done),
              "the shards finished before the disk filled were kept, not redone")
        q = subprocess.run([BIN, "index", "--strict", out], env=ENV, capture_output=True, text=True)
        check(q.returncode == 0 and "missing" not in q.stderr, f"index --strict: exit {q.returncode} {q.stderr.strip()}")
    finally:
        subprocess.run(["umount", disk])

print("index names files it leaves out")
out = os.path.join(work, "index")
shutil.copytree(ref, out)
with open(os.path.join(out, "garbage.h5"), "wb") as f:
    f.write(b"not hdf5")
os.unlink(os.path.join(out, ref_names[3]))
q = subprocess.run([BIN, "index", out], env=ENV, capture_output=True, text=True)
check(q.returncode == 0, f"index exit {q.returncode}: {q.stdout.strip()}")
check(f"left out {out}/garbage.h5: " in q.stderr, line(q.stderr, "garbage.h5"))
check(f"missing shard {ref_names[3][:-3]}" in q.stderr, line(q.stderr, "missing shard"))
q = subprocess.run([BIN, "index", "--strict", out], env=ENV, capture_output=True, text=True)
check(q.returncode == 2, f"index --strict exit {q.returncode} (2 wanted)")

print("SIGHUP stops like SIGTERM")
if len(sys.argv) < 3:
    print("  skipped: no open-blocking library given")
else:
    # The same images and one more, sorting last, whose open never returns (block_open.c): the run
    # cannot finish before the signal comes, however late this script is scheduled.
    hup_imgs = os.path.join(work, "hup-input", "img")   # shard names come from the directory's
    shutil.copytree(imgs, hup_imgs)
    stuck = os.path.join(hup_imgs, "zz-BLOCKS_FOREVER.jpg")
    shutil.copy(os.path.join(imgs, sorted(os.listdir(imgs))[0]), stuck)
    out = os.path.join(work, "hup")
    a = args(out)
    a[a.index("--input") + 1] = hup_imgs
    env = dict(ENV, LD_PRELOAD=sys.argv[2], ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    p = subprocess.Popen(embed_cmd(1, a), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not (os.path.isdir(out) and shard_files(out)):
        time.sleep(0.01)
    for pid in subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split():
        os.kill(int(pid), signal.SIGHUP)
    log, _ = p.communicate(timeout=120)
    check(p.returncode == 3 and not temp_files(out), f"exit {p.returncode} (3 wanted), temporary files {temp_files(out)}")
    os.unlink(stuck)
    run_embed(1, a)
    data, names = read_shards(out)
    check(names == ref_names and all(np.array_equal(data[k], ref_data[k]) for k in ref_data), "the rerun completes it")

print("more than 256 compute threads")
imgs10 = os.path.join(work, "img10")
make_images(imgs10, 10)   # the first 10 images of the reference (same seed)
for how, extra, env in (("--threads 300", ["--threads", "300"], ENV), ("OMP_NUM_THREADS=300", ["--threads", "0"],
                                                                          dict(ENV, OMP_NUM_THREADS="300"))):
    out = os.path.join(work, "threads")
    shutil.rmtree(out, ignore_errors=True)
    a = args(out) + extra
    a[a.index("--input") + 1] = imgs10
    t0 = time.time()
    p = run_embed(1, a, env=env)
    data, _ = read_shards(out)
    err = max(float(np.abs(data[k].astype(np.float64) - ref_data[k][:len(data[k])]).max()) for k in ("cls", "patch_mean"))
    check(len(data["cls"]) == 10 and err < 2e-3, f"{how}: {len(data['cls'])} images in {time.time() - t0:.1f} s, "
          f"max abs difference to 1 thread {err:.2e} (f16 outputs)")

print("config.json out of range")
bad = os.path.join(work, "bad-config")
shutil.copytree(model, bad)
cfg = json.load(open(os.path.join(bad, "config.json")))
for key, value in (("layer_norm_eps", 0), ("hidden_size", -64), ("image_size", 0)):
    c = dict(cfg, **{key: value})
    with open(os.path.join(bad, "config.json"), "w") as f:
        json.dump(c, f)
    p = run_embed(1, ["--model", bad, "--input", imgs, "--output", os.path.join(work, "bad-out")], expect=1)
    msg = line(p.stderr, "config.json")
    check(f"'{key}' is {value}" in msg, f"{key} {value}: exit 1, {msg.strip()}")

print("bench --json PATH is checked before the run")
for path in (os.path.join(work, "no-such-dir", "b.json"), work):
    t0 = time.time()
    p = subprocess.run([BIN, "bench", "--arch", "tiny-dino", "--iters", "1000000", "--json", path], env=ENV,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 1 and f"--json {path}: cannot be written" in p.stderr and time.time() - t0 < 30,
          f"exit {p.returncode} after {time.time() - t0:.1f} s: {p.stderr.strip()}")
good = os.path.join(work, "b.json")
p = subprocess.run([BIN, "bench", "--arch", "tiny-dino", "--iters", "1", "--json", good], env=ENV,
                   capture_output=True, text=True, timeout=120)
check(p.returncode == 0 and json.load(open(good))["arch"] == "tiny-dino", f"a writable --json: exit {p.returncode}")

finish("embed messages")
