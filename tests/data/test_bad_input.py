"""Bad input through `webssl-dist preprocess`: every broken image gets its status code and a log
line naming shard, key and reason, and the job goes on; damaged tars keep the images before the
damage and are reported; a pattern matching nothing stops before any work."""
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


def good(fmt="JPEG", size=(64, 48)):
    b = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size[::-1] + (3,), dtype=np.uint8)).save(b, fmt)
    return b.getvalue()


def png_header(w, h):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def jpeg_with_size(w, h):
    j = bytearray(good())
    i = j.index(b"\xff\xc0")
    j[i + 5:i + 9] = struct.pack(">HH", h, w)
    return bytes(j)


def run(args, expect):
    r = subprocess.run([BIN, "preprocess"] + args, capture_output=True, text=True)
    print(r.stdout.strip())
    if r.returncode != expect:
        print(r.stderr)
        sys.exit(f"exit status {r.returncode}, expected {expect}")
    return r.stderr


def rows(out):
    with h5py.File(out) as f:
        return [k.decode() for k in f["key"][:]], list(f["status"][:]), f.attrs["damaged_shards"]


def add(tf, name, data, size=None):
    ti = tarfile.TarInfo(name)
    ti.size = len(data) if size is None else size
    tf.addfile(ti, io.BytesIO(data))


def main():
    jpg, png, webp = good(), good("PNG"), good("WEBP")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.h5")
        src = os.path.join(d, "bad")
        os.makedirs(src)
        cases = {
            "a_good.jpg": (jpg, OK),
            "b_zero.jpg": (b"", EMPTY),
            "c_trunc.jpg": (jpg[: len(jpg) // 2], DECODE),
            "d_trunc.png": (png[: len(png) // 2], DECODE),
            "e_trunc.webp": (webp[: len(webp) // 2], DECODE),
            "f_corrupt.jpg": (jpg[:200] + bytes(range(256)) * 8, DECODE),
            "g_corrupt.png": (png[:40] + b"\0" * 50 + png[90:], DECODE),
            "h_text.jpg": (b"this is not an image\n" * 10, UNSUPPORTED),
            "i_huge.png": (png_header(100000, 100000), TOO_LARGE),
            "j_huge.jpg": (jpeg_with_size(65000, 65000), TOO_LARGE),
            "k_good.png": (png, OK),
            "l_good.webp": (webp, OK),
        }
        for n, (data, _) in cases.items():
            with open(os.path.join(src, n), "wb") as f:
                f.write(data)
        os.makedirs(os.path.join(src, "m_dir.jpg"))   # a directory with an image name: skipped
        err = run(["--input", src, "--output", out], 0)
        keys, status, _ = rows(out)
        assert keys == sorted(cases), keys
        for k, s in zip(keys, status):
            assert s == cases[k][1], f"{k}: status {s}, expected {cases[k][1]}"
            if s != OK:
                assert f"bad-00000: {k}: " in err, f"no log line for {k}"
        print(f"directory: {len(keys)} rows, statuses as expected")
        # the pixel limit is configurable
        run(["--input", src, "--output", out, "--max-pixels", "1000"], 0)
        assert rows(out)[1][0] == TOO_LARGE
        # unreadable entries of a list
        lst = os.path.join(d, "l.txt")
        with open(lst, "w") as f:
            f.write(f"{src}/a_good.jpg\n{d}/missing.jpg\n{src}/m_dir.jpg\n")
        err = run(["--input", "@" + lst, "--output", out], 0)
        assert rows(out)[1] == [OK, READ, READ], rows(out)
        assert "missing.jpg" in err
        # tar edge cases
        t = os.path.join(d, "t")
        os.makedirs(t)
        with tarfile.open(os.path.join(t, "nonadj.tar"), "w") as tf:
            add(tf, "a.jpg", jpg); add(tf, "b.png", png); add(tf, "a.txt", b"late"); add(tf, "c.json", b"{}")
        with tarfile.open(os.path.join(t, "empty.tar"), "w") as tf:
            pass
        with tarfile.open(os.path.join(t, "noimg.tar"), "w") as tf:
            add(tf, "x.txt", b"1"); add(tf, "y.txt", b"2")
        with tarfile.open(os.path.join(t, "trunc.tar"), "w") as tf:
            add(tf, "p.jpg", jpg); add(tf, "q.webp", webp); add(tf, "r.png", png)
        raw = open(os.path.join(t, "trunc.tar"), "rb").read()
        cut = raw.index(b"r.png") + 512 + 100          # inside r.png's data
        open(os.path.join(t, "trunc.tar"), "wb").write(raw[:cut])
        garbage = bytearray(raw)
        garbage[raw.index(b"q.webp"):raw.index(b"q.webp") + 512] = os.urandom(512)
        open(os.path.join(t, "garbage.tar"), "wb").write(bytes(garbage))
        open(os.path.join(t, "zero.tar"), "wb").close()
        open(os.path.join(t, "notar.tar"), "wb").write(os.urandom(3000))
        expect = {
            "empty": ([], []), "zero": ([], []), "notar": ([], []),
            "garbage": (["p"], [OK]),
            "noimg": (["x", "y"], [NO_IMAGE, NO_IMAGE]),
            "nonadj": (["a", "b", "a", "c"], [OK, OK, NO_IMAGE, NO_IMAGE]),
            "trunc": (["p", "q", "r"], [OK, OK, READ]),
        }
        err = run(["--input", os.path.join(t, "*.tar"), "--output", out], 2)
        with h5py.File(out) as f:
            keys = [k.decode() for k in f["key"][:]]
            shard = [s.decode() for s in f["shard"][:]]
            status = list(f["status"][:])
            damaged = set(f.attrs["damaged_shards"].decode().split(","))
        for name, (k, s) in expect.items():
            got = [(keys[i], status[i]) for i in range(len(keys)) if shard[i] == name]
            assert got == list(zip(k, s)), f"{name}: {got}, expected {list(zip(k, s))}"
        # a 0-byte file is no tar (GNU tar and tarfile refuse it: an unfinished copy)
        assert damaged == {"garbage", "trunc", "notar", "zero"}, damaged
        assert "nonadj: a: key repeats" in err and "trunc: shard damaged" in err
        print(f"tars: rows as expected, damaged shards {sorted(damaged)}")
        # a pattern that matches nothing stops before any work
        err = run(["--input", os.path.join(t, "*.tgz"), "--output", out + "2"], 1)
        assert "matches nothing" in err and not os.path.exists(out + "2")
        print("pattern matching nothing: usage error, no output")
    print("ok")


if __name__ == "__main__":
    main()
