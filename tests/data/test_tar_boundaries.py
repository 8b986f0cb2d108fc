"""Tar members on 512-byte block boundaries, read through `webssl-dist preprocess`: the exact keys
and statuses of every row.

A tar member's data is padded with zeros to a multiple of 512 bytes, so a member of 0, 512 or
1024 bytes has no padding and one of 511 or 513 bytes has 1 or 511 bytes of it; a reader that
miscounts the padding reads data as a header, or skips the next header, and loses (or invents) a
sample without an error. The fixtures put members of 0, 511, 512, 513 and 1024 bytes
  - as non-image members (`key.txt`, `key.json`) between image samples and as the tar's last member;
  - as image members (a JPEG or PNG padded to that size with a comment or text chunk) between
    other samples and as the last member (a 0-byte image member is status "empty");
  - as the only member of a sample (status "no image member").
The data of every 512- and 1024-byte non-image member is itself a tar header for a member
"ghost.jpg", so a reader that takes data for a header shows a "ghost" row.

Expected rows follow WebDataset's grouping (webdataset.tariterators: every regular member, empty
ones included, joins the sample of its key, the path up to the first dot of its base name;
consecutive members with one key are one sample); our reader then reports one row per sample with
status 0 when its image member decodes. The same tars are read again as a stream (`pipe:cat`),
which goes through libarchive's read callback instead of a file descriptor. Each padded image's
pixels must equal those of the unpadded image.
Guards: a reader that miscounts the padding of a member on a block boundary, or mishandles an
empty member (planted and checked: one header skipped after each member of 512*k bytes loses
rows and turns images into "no image member").

usage: test_tar_boundaries.py (WEBSSL_BIN names the program)"""
import io
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

import h5py
import numpy as np
from PIL import Image

BIN = os.environ["WEBSSL_BIN"]
OK, READ, EMPTY, DECODE, UNSUPPORTED, TOO_LARGE, NO_IMAGE = range(7)
SIZES = (0, 511, 512, 513, 1024)


def small_image(fmt, seed):
    a = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    b = io.BytesIO()
    Image.fromarray(a).save(b, fmt, **({"quality": 90, "optimize": True} if fmt == "JPEG" else {}))
    return b.getvalue()


def padded(data, size):
    """The image `data` grown to exactly `size` bytes: a JPEG comment segment after SOI, or a PNG
    tEXt chunk after IHDR; the pixels are unchanged."""
    if data[:2] == b"\xff\xd8":
        n = size - len(data) - 4
        assert 0 <= n < 65534, (len(data), size)
        return data[:2] + b"\xff\xfe" + struct.pack(">H", n + 2) + b"c" * n + data[2:]
    n = size - len(data) - 12 - 2     # chunk length, type, crc; keyword "c" and its NUL
    assert n >= 0, (len(data), size)
    body = b"c\0" + b"t" * n
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return data[:33] + chunk + data[33:]   # 8-byte signature + 25-byte IHDR chunk


def ghost(size):
    """`size` bytes that start with a valid tar header of a member "ghost.jpg" (for 512 and more)."""
    if size < 512:
        return bytes((i * 7 + 1) % 251 for i in range(size))
    ti = tarfile.TarInfo("ghost.jpg")
    ti.size = size - 512
    return (ti.tobuf(tarfile.USTAR_FORMAT) + b"\xff\xd8" + b"g" * size)[:size]


def add(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))


def write_tar(path, members):
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            add(tf, name, data)


def fixtures(d, jpg, png):
    """{tar name: expected [(key, status, key of a row with the same pixels or None)]}; writes the
    tars into d."""
    t, tars = {}, {}
    between, want = [], []
    for i, n in enumerate(SIZES):   # non-image members of each size between images
        between += [(f"s{n}.jpg", jpg), (f"s{n}.{'json' if i % 2 else 'txt'}", ghost(n))]
        want.append((f"s{n}", OK, None))
    for i, n in enumerate(SIZES):   # image members of each size (JPEG and PNG in turn)
        ext, img, same = ("png", png, "next0") if i % 2 else ("jpg", jpg, "s0")
        between += [(f"i{n}.{ext}", padded(img, n) if n else b""), (f"i{n}.txt", ghost(n)),
                    (f"after{n}.jpg", jpg)]
        want += [(f"i{n}", OK, same) if n else (f"i{n}", EMPTY, None), (f"after{n}", OK, None)]
    for n in SIZES:                 # samples with no image member
        between += [(f"n{n}.txt", ghost(n)), (f"next{n}.png", png)]
        want += [(f"n{n}", NO_IMAGE, None), (f"next{n}", OK, None)]
    tars["between"], t["between"] = between, want
    for n in SIZES:   # the tar's last member: a non-image member, an image member, a lone member
        tars[f"last_txt{n}"] = [("a.jpg", jpg), ("b.png", png), ("b.txt", ghost(n))]
        t[f"last_txt{n}"] = [("a", OK, None), ("b", OK, None)]
        tars[f"last_img{n}"] = [("a.jpg", jpg), ("b.jpg", padded(jpg, n) if n else b"")]
        t[f"last_img{n}"] = [("a", OK, None), ("b", OK, "a") if n else ("b", EMPTY, None)]
        tars[f"last_alone{n}"] = [("a.jpg", jpg), ("z.json", ghost(n))]
        t[f"last_alone{n}"] = [("a", OK, None), ("z", NO_IMAGE, None)]
    for name, members in tars.items():
        for mname, data in members:
            if mname.split(".")[0][1:].isdigit() and mname != f"s{mname[1:-4]}.jpg":
                # s511.txt, i512.jpg, i512.txt, n0.txt: that many bytes
                assert len(data) == int(mname.split(".")[0][1:]), mname
        write_tar(os.path.join(d, name + ".tar"), members)
    return t


def preprocess(inp, out):
    r = subprocess.run([BIN, "preprocess", "--input", inp, "--output", out, "--preprocess", "square",
                        "--resolution", "28"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: preprocess {inp} exited {r.returncode}\n{r.stderr}")
    with h5py.File(out) as f:
        return ([k.decode() for k in f["key"][:]], [s.decode() for s in f["shard"][:]], list(f["status"][:]),
                f["pixels"][:], f.attrs["damaged_shards"])


def check_rows(what, want, keys, status, pixels, rows):
    """Rows `rows` of an output against `want`; returns the number of failures."""
    got = [(keys[i], int(status[i])) for i in rows]
    ok = got == [(k, s) for k, s, _ in want]
    print(f"  {'ok  ' if ok else 'FAIL'} {what:22s} {len(got)} rows" + ("" if ok else f": got {got}, expected {want}"))
    fails = 0 if ok else 1
    at = {keys[i]: i for i in rows}
    for k, _, same in want:
        if ok and same and not np.array_equal(pixels[at[k]], pixels[at[same]]):
            print(f"  FAIL {what}: the pixels of {k} differ from those of {same} (same image, unpadded)")
            fails += 1
    return fails


def main():
    jpg, png = small_image("JPEG", 1), small_image("PNG", 2)
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        tdir = os.path.join(d, "tars")
        os.makedirs(tdir)
        tars = fixtures(tdir, jpg, png)
        print(f"{len(tars)} tars, member sizes {SIZES}; image members {len(jpg)} (JPEG) and {len(png)} (PNG) bytes "
              "before padding")
        keys, shard, status, pixels, damaged = preprocess(os.path.join(tdir, "*.tar"), os.path.join(d, "all.h5"))
        for name, want in sorted(tars.items()):
            fails += check_rows(f"file {name}", want, keys, status, pixels,
                                [i for i in range(len(keys)) if shard[i] == name])
        ok = not damaged and len(keys) == sum(len(w) for w in tars.values())
        print(f"  {'ok  ' if ok else 'FAIL'} {len(keys)} rows in all, no shard reported damaged ({damaged!r})")
        fails += 0 if ok else 1
        for name in ("between", "last_txt0", "last_txt512", "last_img512", "last_alone1024"):
            keys, _, status, pixels, damaged = preprocess(f"pipe:cat {os.path.join(tdir, name + '.tar')}",
                                                          os.path.join(d, f"stream-{name}.h5"))
            fails += check_rows(f"stream {name}", tars[name], keys, status, pixels, range(len(keys)))
            if damaged:
                print(f"  FAIL stream {name}: reported damaged ({damaged!r})")
                fails += 1
    print("tar boundaries:", "FAILED" if fails else "passed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
