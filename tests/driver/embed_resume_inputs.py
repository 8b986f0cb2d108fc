"""A resumed `webssl-dist embed` whose inputs changed between the runs, in each way the shard
manifest records (src/data/shard_manifest.h; docs/output.md, "Manifest"): for every change the
rerun must redo the shards it touches and only those, with a log line naming the manifest line
that changed, and the new output must hold the new inputs. Before each change a rerun skips
every shard, so a redo is caused by that change alone.
  tar shards (`tar <size> <mtime>`):
    - only the modification time changed (the tar touched);
    - only the size changed (a member appended, the modification time set back);
    - `source`: the same tar name in another directory (with --overwrite, as run.json asks);
  directory shards (`<key> <size> <mtime>` per image, in row order):
    - an image touched (modification time only);
    - an image rewritten with another size, its modification time set back;
    - an image renamed (its key changes);
    - an image removed: its shard and every later one move;
  list shards (`<key> missing`, `<key> <reason>` when a listed file cannot be stat'ed):
    - a listed image removed: its line says "missing", its row becomes a read error;
    - a listed image that is a symbolic link loop (stat fails: "Too many levels of symbolic
      links"), then replaced by the image: the row goes from read error to ok;
    - the list's lines reordered.
Guards: a resume that keeps a shard file whose inputs changed in any of these ways (a manifest
that leaves a field out, a digest compared wrongly), and one that redoes shards that did not
change.
usage: embed_resume_inputs.py WORKDIR"""
import os
import shutil
import sys
import tarfile

import h5py

from embed_common import check, finish, make_images, run_embed, work_with_model

work, model = work_with_model(sys.argv[1])


def embed(inp, out, *extra):
    """Run embed on one rank (shards of 3 images; any exit but 0 ends the test); returns stderr."""
    return run_embed(1, ["--model", model, "--input", inp, "--output", out, "--batch", "2", "--shard-size", "3",
                         "--preprocess", "square", "--resolution", "28", *extra]).stderr


def redone(err):
    """{shard name: the 'redoing it' log line} of a run."""
    out = {}
    for line in err.splitlines():
        if "redoing it" in line and "shard " in line:
            out[line.split("shard ", 1)[1].split(":", 1)[0]] = line.strip()
    return out


def summary(err):
    return next((l.strip() for l in err.splitlines() if "summary" in l), "no summary line")


def rows(out, shard):
    with h5py.File(os.path.join(out, shard + ".h5")) as f:
        return list(zip(f["key"].asstr()[:], (int(s) for s in f["status"][:])))


def change(inp, out, what, act, want_redone, needles, nshards):
    """Rerun unchanged (every shard skipped), apply `act`, rerun: exactly the shards in
    want_redone are redone, each log line holding the strings of needles[shard]."""
    err = embed(inp, out)
    check(f"0 shards written, {nshards} already done" in err, f"before: {summary(err)}")
    act()
    err = embed(inp, out)
    got = redone(err)
    check(sorted(got) == sorted(want_redone), f"{what}: redone {sorted(got)}, expected {sorted(want_redone)}")
    for shard, line in got.items():
        need = needles.get(shard, ())
        check(all(n in line for n in need), f"  {line[:230]}")


def set_mtime(path, ns):
    os.utime(path, ns=(ns, ns))


def mtime(path):
    return os.stat(path).st_mtime_ns


def tar_of(path, images, prefix):
    with tarfile.open(path, "w") as tf:
        for i, src in enumerate(images):
            tf.add(src, arcname=f"{prefix}{i:03d}.jpg")


imgs = os.path.join(work, "img")
make_images(imgs, 9)
jpgs = sorted(os.path.join(imgs, n) for n in os.listdir(imgs))
spare = os.path.join(work, "spare")
make_images(spare, 3, seed=9)

print("tar shards")
tars = os.path.join(work, "tars")
os.makedirs(tars)
tar_of(os.path.join(tars, "a.tar"), jpgs[:2], "a")
tar_of(os.path.join(tars, "b.tar"), jpgs[2:4], "b")
tout = os.path.join(work, "tout")
embed(os.path.join(tars, "*.tar"), tout)
a = os.path.join(tars, "a.tar")
change(os.path.join(tars, "*.tar"), tout, "a.tar touched", lambda: set_mtime(a, mtime(a) + 5 * 10**9),
       ["a"], {"a": ["was 'tar", "now 'tar"]}, 2)


def grow_tar():
    t = mtime(a)
    with tarfile.open(a, "a") as tf:
        tf.add(jpgs[5], arcname="a002.jpg")
    set_mtime(a, t)


change(os.path.join(tars, "*.tar"), tout, "a.tar grown, mtime set back", grow_tar, ["a"], {"a": ["was 'tar", "now 'tar"]}, 2)
check(rows(tout, "a") == [("a000", 0), ("a001", 0), ("a002", 0)], f"a.h5 holds the appended member: {rows(tout, 'a')}")
moved = os.path.join(work, "tars2")
shutil.copytree(tars, moved, copy_function=shutil.copy2)   # same names, sizes and times; another source
# Another input set is refused without --overwrite (run.json; driver_embed_at_rest tests that).
err = embed(os.path.join(moved, "*.tar"), tout, "--overwrite")
got = redone(err)
check(sorted(got) == ["a", "b"] and all("made from" in l and "tars2" in l for l in got.values()),
      f"source changed: redone {sorted(got)}: {next(iter(got.values()), '')[:200]}")

print("directory shards (img-00000: img0000-0002, img-00001: img0003-0005, img-00002: img0006-0008)")
dout = os.path.join(work, "dout")
embed(imgs, dout)
p4 = os.path.join(imgs, "img0004.jpg")
change(imgs, dout, "img0004.jpg touched", lambda: set_mtime(p4, mtime(p4) + 7 * 10**9),
       ["img-00001"], {"img-00001": ["img0004.jpg"]}, 3)


def rewrite_same_mtime():
    t = mtime(p4)
    shutil.copy(os.path.join(spare, "img0001.jpg"), p4)
    set_mtime(p4, t)


change(imgs, dout, "img0004.jpg rewritten, mtime set back", rewrite_same_mtime, ["img-00001"],
       {"img-00001": ["img0004.jpg"]}, 3)
change(imgs, dout, "img0007.jpg renamed img0007x.jpg",
       lambda: os.rename(os.path.join(imgs, "img0007.jpg"), os.path.join(imgs, "img0007x.jpg")),
       ["img-00002"], {"img-00002": ["was 'img0007.jpg", "now 'img0007x.jpg"]}, 3)
change(imgs, dout, "img0001.jpg removed", lambda: os.remove(os.path.join(imgs, "img0001.jpg")),
       ["img-00000", "img-00001", "img-00002"], {"img-00000": ["was 'img0001.jpg", "now 'img0002.jpg"]}, 3)
check([k for k, _ in rows(dout, "img-00000")] == ["img0000.jpg", "img0002.jpg", "img0003.jpg"],
      f"img-00000 after the removal: {rows(dout, 'img-00000')}")

print("list shards")
limgs = os.path.join(work, "limg")
make_images(limgs, 4, seed=3)
jpgs = sorted(os.path.join(limgs, n) for n in os.listdir(limgs))
lst = os.path.join(work, "list.txt")
loop = os.path.join(work, "loop.jpg")
os.symlink("loop.jpg", loop)
listed = [jpgs[0], jpgs[1], loop]
with open(lst, "w") as f:
    f.write("".join(p + "\n" for p in listed))
lout = os.path.join(work, "lout")
embed("@" + lst, lout)
with h5py.File(os.path.join(lout, "list-00000.h5")) as f:
    m = f.attrs["manifest"]
check([s for _, s in rows(lout, "list-00000")] == [0, 0, 1] and "loop.jpg\tToo many levels of symbolic links" in m,
      f"the symbolic link loop: a read-error row, its manifest line {m.splitlines()[-1]!r}")


def fix_loop():
    os.remove(loop)
    shutil.copy(jpgs[2], loop)


change("@" + lst, lout, "the link loop replaced by an image", fix_loop, ["list-00000"],
       {"list-00000": ["Too many levels of symbolic links", "loop.jpg"]}, 1)
check([s for _, s in rows(lout, "list-00000")] == [0, 0, 0], f"now every row ok: {rows(lout, 'list-00000')}")
gone = os.path.join(work, "gone.jpg")
shutil.copy(jpgs[3], gone)
with open(lst, "a") as f:
    f.write(gone + "\n")
embed("@" + lst, lout)
change("@" + lst, lout, "a listed image removed", lambda: os.remove(gone), ["list-00001"],
       {"list-00001": ["gone.jpg", "missing"]}, 2)
check([s for _, s in rows(lout, "list-00001")] == [1], f"its row is a read error: {rows(lout, 'list-00001')}")


def reorder():
    with open(lst, "w") as f:
        f.write("".join(p + "\n" for p in [listed[1], listed[0], listed[2], gone]))


change("@" + lst, lout, "the list's lines reordered", reorder, ["list-00000"],
       {"list-00000": ["was '" + jpgs[0], "now '" + jpgs[1]]}, 2)
check([k for k, _ in rows(lout, "list-00000")] == [jpgs[1], jpgs[0], loop], "rows in the new order")

finish("embed resume inputs")
