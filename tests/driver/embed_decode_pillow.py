"""Damaged images get Pillow's verdict, end to end through `webssl-dist embed` (docs/images.md,
"Damaged images"): for each file, Pillow's Image.open(f).convert("RGB") either succeeds (the row
must be status 0) or raises (the row must be status 3, "decode error", with a log line naming the
shard, the file and the decoder's reason). The files are made from good JPEG, PNG and WebP images:
  - JPEG: scan data overwritten with random bytes (markers among them; length and EOI kept), at
    several places and seeds; a SOF and a DHT segment planted inside the scan; cut mid-scan and
    just before EOI; extraneous bytes before a header marker and before EOI; a run of bad Huffman
    codes (stuffed 0xFF bytes); a progressive JPEG overwritten and cut;
  - PNG: cut inside IDAT, IDAT data overwritten (CRC made right: zlib fails), an ancillary chunk
    before IDAT with a bad CRC, no IEND;
  - WebP (lossy and lossless): cut, and the bitstream overwritten with its sizes kept.
The set must hold files of both verdicts. Three runs: --decode exact at a square resize (every
row decoded whole), exact with a center crop (rows and columns outside the crop skipped in
libjpeg) and --decode fast with a crop (DCT-domain scaling): every row agrees with Pillow in each.
One difference is stated in the docs and checked as such: an IDAT chunk whose CRC is wrong but
whose data is sound is a decode error here (libpng checks the CRC; Pillow does not).
Guards: a decoder that ignores libjpeg's errors after the last row (the markers up to EOI), one
that turns libjpeg's warnings into errors, or ancillary PNG CRCs that pass.
usage: embed_decode_pillow.py WORKDIR"""
import io
import os
import struct
import sys
import zlib

import h5py
import numpy as np
from PIL import Image

from embed_common import check, finish, run_embed, work_with_model

OK, DECODE = 0, 3
work, model = work_with_model(sys.argv[1])


def photo(seed, h=144, w=192):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, (x + y) / (w + h)], -1) * 200
    return np.clip(base + np.random.default_rng(seed).normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)


def encode(a, fmt, **kw):
    b = io.BytesIO()
    Image.fromarray(a).save(b, fmt, **kw)
    return b.getvalue()


def scan(j):
    """[start, end) of the entropy-coded data of a one-scan JPEG: after the SOS segment, before EOI."""
    i = j.index(b"\xff\xda")
    return i + 2 + struct.unpack(">H", j[i + 2:i + 4])[0], len(j) - 2


def overwrite(d, at, n, seed):
    rng = np.random.default_rng(seed)
    return d[:at] + rng.integers(0, 256, n, dtype=np.uint8).tobytes() + d[at + n:]


def png_chunk(t, d, crc=None):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) if crc is None else crc)


def png_chunks(p):
    out, i = [], 8
    while i < len(p):
        n = struct.unpack(">I", p[i:i + 4])[0]
        out.append((p[i + 4:i + 8], p[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def png_from(chunks):
    """A PNG of (type, data) or (type, data, crc) chunks."""
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(*c) for c in chunks)


jpg = encode(photo(1), "JPEG", quality=90)
prog = encode(photo(2), "JPEG", quality=90, progressive=True)
s0, s1 = scan(jpg)
mid = (s0 + s1) // 2
files = {"a_good.jpg": jpg}
for k, (at, n) in enumerate([(s0 + 40, 200), (mid, 300), (mid, 60), (s1 - 400, 400), (s0, s1 - s0)]):
    for seed in range(3):   # random bytes hold 0xFF followed by anything: markers of every kind
        files[f"b_scan_over{k}_{seed}.jpg"] = overwrite(jpg, at, n, 10 * k + seed)
sof = jpg[jpg.index(b"\xff\xc0"):][:19]                       # the file's own SOF0 segment
dht = jpg[jpg.index(b"\xff\xc4"):]
dht = dht[:2 + struct.unpack(">H", dht[2:4])[0]]               # and its first DHT segment
files["c_sof_in_scan.jpg"] = jpg[:mid] + sof + jpg[mid + len(sof):]
files["c_dht_in_scan.jpg"] = jpg[:mid] + dht + jpg[mid + len(dht):]
files["d_cut_mid_scan.jpg"] = jpg[:mid]
files["d_cut_before_eoi.jpg"] = jpg[:-2]
dqt = jpg.index(b"\xff\xdb")   # after APP0 (junk right after SOI is no JPEG to either: status 4)
files["e_junk_before_dqt.jpg"] = jpg[:dqt] + b"\x12\x34\x56" + jpg[dqt:]
files["e_junk_before_eoi.jpg"] = jpg[:-2] + b"\x12\x34\x56\x78" + jpg[-2:]
files["f_bad_huffman_codes.jpg"] = jpg[:mid] + b"\xff\x00" * 50 + jpg[mid + 100:]   # all-ones codes: none valid
p0, p1 = scan(prog)   # the first scan of the progressive file
files["g_prog_over.jpg"] = overwrite(prog, p0 + 20, 200, 99)
files["g_prog_cut.jpg"] = prog[:len(prog) * 2 // 3]

png = encode(photo(3, 60, 80), "PNG")
ch = png_chunks(png)
idat = next(i for i, (t, _) in enumerate(ch) if t == b"IDAT")
t, d = ch[idat]
bad_z = d[:10] + bytes(range(200, 256)) + d[66:]
files["h_good.png"] = png
files["h_cut.png"] = png[:len(png) // 2]
files["h_zlib_over.png"] = png_from(ch[:idat] + [(t, bad_z)] + ch[idat + 1:])
files["h_text_bad_crc.png"] = png_from(ch[:idat] + [(b"tEXt", b"Comment\0hello", 1234)] + ch[idat:])
files["h_no_iend.png"] = png_from(ch[:-1])
files["i_idat_bad_crc.png"] = png_from(ch[:idat] + [(t, d, 1234)] + ch[idat + 1:])
for name, kw in (("lossy", {"quality": 80}), ("lossless", {"lossless": True})):
    w = encode(photo(4, 60, 80), "WEBP", **kw)
    files[f"j_{name}_good.webp"] = w
    files[f"j_{name}_cut.webp"] = w[:len(w) // 2]
    files[f"j_{name}_over.webp"] = overwrite(w, len(w) // 3, len(w) // 3, 7)
# Known difference (docs/images.md): libpng checks IDAT's CRC, Pillow does not.
differs = {"i_idat_bad_crc.png": DECODE}

imgs = os.path.join(work, "img")
os.makedirs(imgs)
pillow = {}
for name, data in sorted(files.items()):
    with open(os.path.join(imgs, name), "wb") as f:
        f.write(data)
    try:
        Image.open(io.BytesIO(data)).convert("RGB")
        pillow[name] = OK, "decodes"
    except Exception as e:   # noqa: BLE001 (Pillow raises OSError, SyntaxError, ValueError...)
        pillow[name] = DECODE, f"{type(e).__name__}: {e}"
want = {n: differs.get(n, v) for n, (v, _) in pillow.items()}
verdicts = {v for v, _ in pillow.values()}
check(verdicts == {OK, DECODE}, f"Pillow accepts {sum(v == OK for v, _ in pillow.values())} files and refuses "
      f"{sum(v == DECODE for v, _ in pillow.values())}")

runs = (("exact, square", ["--decode", "exact", "--preprocess", "square"]),
        ("exact, crop", ["--decode", "exact", "--preprocess", "crop", "--resize", "32"]),
        ("fast, crop", ["--decode", "fast", "--preprocess", "crop", "--resize", "32"]))
for label, extra in runs:
    print(label)
    out = os.path.join(work, "out-" + label.replace(", ", "-"))
    err = run_embed(1, ["--model", model, "--input", imgs, "--output", out, "--batch", "4", "--shard-size", "64",
                        "--resolution", "28", "--features", "cls"] + extra).stderr
    with h5py.File(os.path.join(out, "img-00000.h5")) as f:
        got = dict(zip(f["key"].asstr()[:], f["status"][:].tolist()))
    check(sorted(got) == sorted(files), f"{len(got)} rows, one per file")
    for name in sorted(files):
        st = got.get(name)
        line = next((ln.strip() for ln in err.splitlines() if f": {name}: decode error (" in ln), "")
        logged = (line != "") == (st == DECODE) and (st != DECODE or "img-00000: " in line)
        note = " (libpng checks IDAT's CRC, Pillow does not)" if name in differs else ""
        check(st == want[name] and logged,
              f"{name}: status {st}, Pillow: {pillow[name][1][:70]}{note}" + (f"; log: {line[-90:]}" if line else ""))

finish("embed decode as Pillow")
