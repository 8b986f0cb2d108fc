"""WebDataset samples through `webssl-dist preprocess`: keys and the member each image is taken
from, against the webdataset package's grouping (its tar iterator and group_by_keys, with
to_tuple-style picking of the first listed extension) when it is installed, else against its
documented rule (extension = everything after the first dot of the base name, lower-cased; key =
the path before it; members without one skipped; see data/wds_name.h). Tars are written by
Python's tarfile and, where it is installed, by GNU tar from a directory tree.

Cases: x.depth.png beside x.jpg (jpg wins, depth.png is not png), a png listed before a jpg, a
sample with only depth.png (no image), upper-case extensions, dots in directory names, members
without an extension and metadata names (skipped), a base name starting with a dot, bmp before
gif, --image-ext depth.png;jpg choosing the depth map, and a repeated extension (first kept).
Each image member is a solid colour, so the stored pixels say which member was used."""
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

import h5py
import numpy as np
from PIL import Image

BIN = os.environ["WEBSSL_BIN"]
DEFAULT = "jpg;jpeg;png;webp;bmp;gif"
NO_IMAGE = 6

try:
    import webdataset
    from webdataset import tariterators
except ImportError:
    webdataset = None


def image(fmt, colour):
    b = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(b, fmt)
    return b.getvalue()


FMT = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "bmp": "BMP", "gif": "GIF"}


def members():
    """(name, bytes, colour or None) in tar order; colours are far apart so JPEG's error cannot
    confuse them."""
    out, k = [], [0]

    def img(name):
        k[0] += 1
        c = ((k[0] * 53) % 256, (k[0] * 101) % 256, (k[0] * 197) % 256)
        fmt = FMT[name.rsplit(".", 1)[1].lower()]
        out.append((name, image(fmt, c), c))

    def other(name):   # its own name as its bytes: unique, so the reference can name it
        out.append((name, name.encode(), None))

    img("a/x.jpg"); img("a/x.depth.png"); other("a/x.json")
    img("y.depth.png"); img("y.png")
    img("z.depth.png"); other("z.txt")
    img("w.png"); img("w.jpg")
    img("v.JPG")
    img("dir.v1/u.jpg"); other("dir.v1/u.cls")
    other("README")
    other("__meta__")
    img("t.seg.jpg"); img("t.webp")
    img("s/.hidden.png")
    img("q.gif"); img("q.bmp")
    return out


def documented_groups(names):
    """webdataset's rule, as documented (base_plus_ext + group_by_keys): [(key, {ext: name})]."""
    groups = []
    for n in names:
        if "/" not in n and n.startswith("__") and n.endswith("__"):
            continue
        if re.match(r"__[^/]*__($|/)", n):
            continue
        m = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", n)
        if not m:
            continue
        key, ext = m.group(1), m.group(2).lower()
        if not groups or groups[-1][0] != key:
            groups.append((key, {}))
        groups[-1][1].setdefault(ext, n)
    return groups


def package_groups(tar_path, names_by_data):
    """The webdataset package's samples of the tar: [(key, {ext: member name})]."""
    with open(tar_path, "rb") as f:
        files = tariterators.tar_file_iterator(f)
        samples = list(tariterators.group_by_keys({**x, "__url__": tar_path} for x in files))
    return [(s["__key__"], {k: names_by_data[v] for k, v in s.items() if not k.startswith("__")})
            for s in samples]


def expected(groups, exts):
    """[(key, chosen member name or None)] picking the first extension of `exts` present."""
    out = []
    for key, by_ext in groups:
        pick = next((by_ext[e] for e in exts.split(";") if e in by_ext), None)
        out.append((key, pick))
    return out


def run(args, expect=0):
    r = subprocess.run([BIN, "preprocess"] + args, capture_output=True, text=True)
    if r.returncode != expect:
        print(r.stdout, r.stderr)
        sys.exit(f"preprocess {' '.join(args)}: exit {r.returncode}, expected {expect}")
    return r.stderr


def chosen(out, colours):
    """[(key, member name or None)] read back: the member whose colour the stored image has."""
    with h5py.File(out) as f:
        keys = [k.decode() for k in f["key"][:]]
        status, imgs = f["status"][:], f["image"][:]
    got = []
    for k, s, im in zip(keys, status, imgs):
        if s == NO_IMAGE:
            got.append((k, None))
            continue
        assert s == 0, f"{k}: status {s}"
        mean = im.reshape(-1, 3).astype(float).mean(0)
        name = min(colours, key=lambda n: np.abs(np.array(colours[n]) - mean).sum())
        assert np.abs(np.array(colours[name]) - mean).max() < 12, f"{k}: colour {mean} matches no member"
        got.append((k, name))
    return got


def check(what, got, want):
    if got != want:
        for g, w in zip(got + [None] * len(want), want + [None] * len(got)):
            print(f"  {'ok  ' if g == w else 'DIFF'} got {g}  want {w}")
        sys.exit(f"FAIL {what}")
    print(f"ok  {what}: {len(got)} samples, keys and chosen members as the reference")


def main():
    ms = members()
    colours = {n: c for n, _, c in ms if c}
    names = [n for n, _, _ in ms]
    with tempfile.TemporaryDirectory() as d:
        tar_path = os.path.join(d, "py.tar")
        with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as tf:
            for n, data, _ in ms:
                ti = tarfile.TarInfo(n)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        groups = documented_groups(names)
        if webdataset is not None:
            pkg = package_groups(tar_path, {data: n for n, data, _ in ms})
            assert pkg == groups, \
                f"webdataset {webdataset.__version__} groups differently from its documented rule:\n{pkg}\n{groups}"
            print(f"reference: the webdataset package {webdataset.__version__} (its documented rule agrees)")
        else:
            print("reference: webdataset's documented rule (the package is not installed)")
        out = os.path.join(d, "out.h5")
        for exts in (None, "depth.png;jpg", "PNG"):
            args = ["--input", tar_path, "--output", out, "--resolution", "28", "--preprocess", "square"]
            run(args + (["--image-ext", exts] if exts else []))
            check(f"python tarfile, --image-ext {exts or DEFAULT}", chosen(out, colours),
                  expected(groups, (exts or DEFAULT).lower()))

        # GNU tar from a directory tree (its own member order and header layout)
        if shutil.which("tar"):
            tree = os.path.join(d, "tree")
            for n, data, _ in ms:
                os.makedirs(os.path.dirname(os.path.join(tree, n)), exist_ok=True)
                with open(os.path.join(tree, n), "wb") as f:
                    f.write(data)
            gnu = os.path.join(d, "gnu.tar")
            subprocess.run(["tar", "-cf", gnu, "-C", tree, "--sort=name"] + sorted(os.listdir(tree)), check=True)
            with tarfile.open(gnu) as tf:
                gnames = [m.name for m in tf.getmembers() if m.isreg()]
            run(["--input", gnu, "--output", out, "--resolution", "28", "--preprocess", "square"])
            check("GNU tar", chosen(out, colours), expected(documented_groups(gnames), DEFAULT))
        else:
            print("skipped GNU tar: not installed")

        # the same extension twice in a sample: webdataset refuses it; the first is kept, logged
        dup = os.path.join(d, "dup.tar")
        with tarfile.open(dup, "w") as tf:
            for n, data, _ in [ms[0], ("a/x.jpg", image("JPEG", (250, 250, 250)), None)]:
                ti = tarfile.TarInfo(n)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        err = run(["--input", dup, "--output", out, "--resolution", "28", "--preprocess", "square"])
        check("repeated extension", chosen(out, colours), [("a/x", "a/x.jpg")])
        assert "a second member with the same extension" in err, err

        # a bad list is refused before any work
        err = run(["--input", tar_path, "--output", out, "--image-ext", "jpg;;png"], 1)
        assert "--image-ext 'jpg;;png'" in err, err
        print("ok  --image-ext 'jpg;;png' refused:", err.strip().splitlines()[0])
    print("wds grouping: passed")


if __name__ == "__main__":
    main()
