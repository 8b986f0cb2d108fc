"""Pixel exactness against Pillow: builds a corpus of >= 200 images (skimage's sample photographs,
tiny, odd and extreme sizes, every JPEG/PNG/WebP/GIF/BMP mode the decoders handle), then checks
for every file that the program's decoded RGB equals Image.open(f).convert("RGB"), that its
bicubic resize equals Pillow's Image.resize(size, BICUBIC), and that its crop-mode preprocessing
(computed as a window of the resize) equals torchvision CenterCrop(R)(Resize(S, BICUBIC)), all
exactly (crops larger than the resized image included, which torchvision pads with zeros);
and that files Pillow refuses (a BMP palette of more than 256 colours) are refused too.
usage: test_pixels.py IMAGE_TOOL"""
import io
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import skimage
from PIL import Image, ImageOps
from torchvision import transforms as T

rng = np.random.default_rng(1234)


def smooth(w, h, ch=3):
    """Photo-like test content: a smooth random field plus fine noise."""
    lo = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), ch), dtype=np.uint8)
    base = np.asarray(Image.fromarray(lo.squeeze(-1) if ch == 1 else lo).resize((w, h), Image.BILINEAR))
    noise = rng.integers(-20, 21, base.shape)
    return np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8)


def png_raw(path, arr, ctype, depth):
    """Minimal PNG writer for what Pillow cannot write (16-bit colour, 16-bit grey + alpha)."""
    h, w = arr.shape[:2]
    raw = arr.astype(">u2").tobytes() if depth == 16 else arr.astype(np.uint8).tobytes()
    stride = len(raw) // h
    data = b"".join(b"\0" + raw[y * stride:(y + 1) * stride] for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


def build_corpus(d, tool):
    files = []
    def add(name, im, fmt, **kw):
        p = os.path.join(d, name)
        im.save(p, fmt, **kw)
        files.append((p, {}))
    # real photographs shipped with skimage, as stored and re-encoded
    sk = os.path.join(os.path.dirname(skimage.__file__), "data")
    photos = sorted(f for f in os.listdir(sk) if f.endswith((".png", ".jpg")) and "truncated" not in f)
    for f in photos:
        files.append((os.path.join(sk, f), {}))
    for i, f in enumerate(photos[:12]):
        im = Image.open(os.path.join(sk, f)).convert("RGB")
        add(f"photo{i}_q85.jpg", im, "JPEG", quality=85)
        add(f"photo{i}_prog.jpg", im, "JPEG", quality=75, progressive=True)
        add(f"photo{i}.webp", im, "WEBP", quality=80)
    # tiny, odd and extreme sizes
    sizes = [(1, 1), (1, 2), (2, 1), (1, 7), (7, 1), (1, 300), (300, 1), (2, 2), (2, 3), (3, 2),
             (5, 7), (13, 11), (17, 256), (256, 17), (3, 1000), (1000, 3), (31, 33), (99, 100),
             (223, 225), (224, 224), (255, 257), (256, 256), (300, 200), (200, 300), (511, 383),
             (640, 480), (480, 640), (1024, 9), (9, 1024), (800, 600), (1200, 900), (57, 1111)]
    for w, h in sizes:
        a = smooth(w, h)
        add(f"s{w}x{h}.png", Image.fromarray(a), "PNG")
        add(f"s{w}x{h}.jpg", Image.fromarray(a), "JPEG", quality=92)
        add(f"s{w}x{h}_g.jpg", Image.fromarray(a).convert("L"), "JPEG")
    # every mode the decoders handle
    a = smooth(123, 77)
    rgb = Image.fromarray(a)
    for sub in (0, 1, 2):
        add(f"sub{sub}.jpg", rgb, "JPEG", subsampling=sub, quality=90)
    add("cmyk.jpg", rgb.convert("CMYK"), "JPEG", quality=90)
    add("cmyk_big.jpg", Image.fromarray(smooth(301, 203)).convert("CMYK"), "JPEG")
    cmyk = np.asarray(rgb.convert("CMYK"))
    raw = os.path.join(d, "ycck.cmyk")
    with open(raw, "wb") as f:
        f.write(b"%d %d\n" % (123, 77) + cmyk.tobytes())
    subprocess.run([tool, "--write-ycck", raw, os.path.join(d, "ycck.jpg")], check=True)
    files.append((os.path.join(d, "ycck.jpg"), {}))
    alpha = Image.fromarray(smooth(123, 77, 1))
    rgba = rgb.copy(); rgba.putalpha(alpha)
    add("rgba.png", rgba, "PNG")
    add("l.png", rgb.convert("L"), "PNG")
    la = rgb.convert("L"); la.putalpha(alpha); add("la.png", la, "PNG")
    add("p.png", rgb.convert("P", palette=Image.ADAPTIVE, colors=200), "PNG")
    pt = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
    add("p_trns.png", pt, "PNG", transparency=3)
    add("p4.png", pt, "PNG", bits=4)
    add("bw.png", rgb.convert("1"), "PNG")
    add("l_trns.png", rgb.convert("L"), "PNG", transparency=7)
    g16 = (np.asarray(rgb.convert("L")).astype(np.uint16) * 3 - 100).clip(0, 65535)
    add("i16.png", Image.fromarray(g16.astype(np.uint16)), "PNG")
    png_raw(os.path.join(d, "rgb16.png"), rng.integers(0, 65536, (37, 41, 3)), 2, 16); files.append((os.path.join(d, "rgb16.png"), {}))
    png_raw(os.path.join(d, "rgba16.png"), rng.integers(0, 65536, (37, 41, 4)), 6, 16); files.append((os.path.join(d, "rgba16.png"), {}))
    png_raw(os.path.join(d, "la16.png"), rng.integers(0, 65536, (37, 41, 2)), 4, 16); files.append((os.path.join(d, "la16.png"), {}))
    png_raw(os.path.join(d, "g2.png"), np.zeros((5, 4), np.uint8), 0, 8); files.append((os.path.join(d, "g2.png"), {}))
    add("lossless.webp", rgb, "WEBP", lossless=True)
    add("alpha.webp", rgba, "WEBP", quality=90)
    add("alpha_lossless.webp", rgba, "WEBP", lossless=True)
    add("anim.webp", rgb, "WEBP", save_all=True, append_images=[rgb.transpose(Image.FLIP_LEFT_RIGHT)])
    add("p.gif", rgb.convert("P", palette=Image.ADAPTIVE), "GIF")
    add("l.gif", rgb.convert("L"), "GIF")
    add("anim.gif", rgb.convert("P"), "GIF", save_all=True, append_images=[rgb.rotate(90).convert("P")])
    add("rgb.bmp", rgb, "BMP")
    add("rgba.bmp", rgba, "BMP")
    add("p.bmp", rgb.convert("P"), "BMP")
    add("l.bmp", rgb.convert("L"), "BMP")
    add("bw.bmp", rgb.convert("1"), "BMP")
    add("jpeg_named.png", rgb, "JPEG")   # content decides, not the extension
    bmp_palette(os.path.join(d, "p4_17colours.bmp"), 4, 17); files.append((os.path.join(d, "p4_17colours.bmp"), {}))
    # EXIF orientations, checked with --exif against ImageOps.exif_transpose
    for o in range(1, 9):
        ex = Image.Exif(); ex[0x0112] = o
        p = os.path.join(d, f"exif{o}.jpg")
        Image.fromarray(smooth(40, 24)).save(p, "JPEG", exif=ex.tobytes())
        files.append((p, {"exif": True}))
        files.append((p, {}))
    # two Exif segments (orientations 6, then 3): Pillow uses the first
    b = io.BytesIO()
    Image.fromarray(smooth(40, 24)).save(b, "JPEG", exif=exif_bytes(6))
    j, seg = b.getvalue(), exif_bytes(3)
    end = j.index(b"\xff\xe1") + 2 + int.from_bytes(j[j.index(b"\xff\xe1") + 2:j.index(b"\xff\xe1") + 4], "big")
    p = os.path.join(d, "exif_twice.jpg")
    with open(p, "wb") as f:
        f.write(j[:end] + b"\xff\xe1" + (len(seg) + 2).to_bytes(2, "big") + seg + j[end:])
    files.append((p, {"exif": True}))
    return files


def exif_bytes(orientation):
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


def bmp_palette(path, bpp, ncolors):
    """A 2x2 palette BMP whose header declares `ncolors` palette entries (all present)."""
    row = ((2 * bpp + 31) // 32) * 4
    pal = b"".join(bytes([i % 256, (i * 3) % 256, (i * 7) % 256, 0]) for i in range(ncolors))
    px = bytes(range(1, row * 2 + 1))
    off = 14 + 40 + len(pal)
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", off + len(px), 0, 0, off) +
                struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, bpp, 0, len(px), 2835, 2835, ncolors, 0) + pal + px)


def refused(d, tool):
    """Files Pillow refuses must be refused here too: (path, why)."""
    p = os.path.join(d, "p8_300colours.bmp")
    bmp_palette(p, 8, 300)
    return [(p, "BMP palette of 300 colours")]


def run_tool(tool, path, out, size, exif, crop):
    cmd = [tool] + (["--exif"] if exif else []) + ["--crop", str(crop[0]), str(crop[1])]
    cmd += [path, out, str(size[0]), str(size[1])]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, None, None, r.stdout + r.stderr
    with open(out, "rb") as f:
        blob = f.read()
    nl = blob.index(b"\n")
    w, h = map(int, blob[:nl].split())
    px = np.frombuffer(blob[nl + 1:], np.uint8)
    dec = px[:w * h * 3].reshape(h, w, 3)
    n = size[0] * size[1] * 3
    res = px[w * h * 3:w * h * 3 + n].reshape(size[1], size[0], 3)
    cropped = px[w * h * 3 + n:].reshape(crop[1], crop[1], 3)
    return dec, res, cropped, ""


def main():
    tool = sys.argv[1]
    targets = [(224, 224), (256, None), (7, 5), (500, 500), (1, 1), (333, 100)]
    crops = [(256, 224), (64, 49), (9, 7), (100, 131), (1, 1), (300, 299), (20, 20)]
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        files = build_corpus(d, tool)
        print(f"corpus: {len(files)} images")
        assert len(files) >= 200
        for i, (path, opt) in enumerate(files):
            ref = Image.open(path)
            if opt.get("exif"):
                ref = ImageOps.exif_transpose(ref)
            ref = ref.convert("RGB")
            w, h = ref.size
            tw, th = targets[i % len(targets)]
            if th is None:   # torchvision Resize(256): shorter side to 256
                short, long = min(w, h), max(w, h)
                nl = int(tw * long / short)
                tw, th = (tw, nl) if w <= h else (nl, tw)
            crop = crops[i % len(crops)]
            dec, res, cropped, err = run_tool(tool, path, os.path.join(d, "out.bin"), (tw, th),
                                              opt.get("exif"), crop)
            name = os.path.basename(path) + (" (exif)" if opt.get("exif") else "")
            if dec is None:
                print(f"FAIL {name}: {err.strip()}")
                bad += 1
                continue
            refa = np.asarray(ref)
            if dec.shape != refa.shape or not np.array_equal(dec, refa):
                diff = np.abs(dec.astype(int) - refa.astype(int)).max() if dec.shape == refa.shape else "shape"
                print(f"FAIL {name}: decoded {dec.shape} differs from Pillow {refa.shape}, max abs {diff}")
                bad += 1
                continue
            refr = np.asarray(ref.resize((tw, th), Image.BICUBIC))
            if not np.array_equal(res, refr):
                m = np.abs(res.astype(int) - refr.astype(int))
                print(f"FAIL {name}: resize {w}x{h} -> {tw}x{th}: max abs {m.max()}, {np.count_nonzero(m)} values differ")
                bad += 1
                continue
            refc = np.asarray(T.CenterCrop(crop[1])(T.Resize(crop[0], T.InterpolationMode.BICUBIC)(ref)))
            if not np.array_equal(cropped, refc):
                m = np.abs(cropped.astype(int) - refc.astype(int))
                print(f"FAIL {name}: crop {crop} of {w}x{h}: max abs {m.max()}, {np.count_nonzero(m)} values differ")
                bad += 1
        for path, why in refused(d, tool):
            try:
                Image.open(path).convert("RGB")
                pillow = "accepts"
            except (OSError, ValueError) as e:
                pillow = f"refuses ({e})"
            dec, _, _, err = run_tool(tool, path, os.path.join(d, "out.bin"), (4, 4), False, (4, 4))
            ok = dec is None and pillow.startswith("refuses")
            print(f"{'ok  ' if ok else 'FAIL'} {why}: Pillow {pillow}; ours {'refuses: ' + err.strip() if dec is None else 'accepts'}")
            bad += not ok
    print(f"{len(files) - bad}/{len(files)} images decode, resize and crop exactly as Pillow + torchvision (max abs error 0)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
