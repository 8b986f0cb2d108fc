"""Single-core decode + preprocess throughput against Pillow + torchvision (Resize(256, bicubic),
CenterCrop(224), ToTensor, Normalize) on the same JPEG files, everything pinned to one core and
measured in CPU seconds (user + sys, so other load on the machine does not count). Rounds run the
reference and ours interleaved; the ratio printed is the median over rounds. Ours is measured two
ways:
  in-process: `image_tool --bench` reads, decodes and preprocesses the files in one loop, the
              twin of the Python loop (neither counts program start-up);
  program:    `webssl-dist preprocess --decode-threads 1`, start-up and the HDF5 file included.
The program's tensors must equal torchvision's (max abs diff printed). Then --fast-decode: its
speed and how far its pixels move from the exact path.
usage: bench_preprocess.py [--bin webssl-dist] [--tool image_tool] [--images N] [--side S]
                           [--core C] [--rounds R]"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import skimage
import torch
from PIL import Image
from torchvision import transforms as T


def make_corpus(d, n, side):
    """JPEGs made from skimage's photographs, resized so the longer side is `side` pixels."""
    sk = os.path.join(os.path.dirname(skimage.__file__), "data")
    photos = [Image.open(os.path.join(sk, f)).convert("RGB") for f in sorted(os.listdir(sk))
              if f.endswith((".png", ".jpg")) and "truncated" not in f]
    photos = [p for p in photos if min(p.size) >= 100]
    paths = []
    for i in range(n):
        p = photos[i % len(photos)]
        s = side / max(p.size)
        im = p.resize((max(1, round(p.width * s)), max(1, round(p.height * s))), Image.BICUBIC)
        path = os.path.join(d, f"{i:05d}.jpg")
        im.save(path, quality=90)
        paths.append(path)
    return paths


def bench_torchvision(paths):
    """CPU seconds of the whole loop and of its decoding part (open + convert)."""
    torch.set_num_threads(1)
    tf = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                    T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    out, t_dec = [], 0.0
    t0 = time.process_time()
    for p in paths:
        t = time.process_time()
        im = Image.open(p).convert("RGB")
        t_dec += time.process_time() - t
        out.append(tf(im))
    return time.process_time() - t0, t_dec, out


def bench_inprocess(tool, paths, extra):
    """CPU seconds of `image_tool --bench` over the files and of its decoding part."""
    r = subprocess.run([tool, "--bench", "256", "224"] + extra + paths, check=True,
                       capture_output=True, text=True)
    f = r.stdout.split()
    assert f[0] == "images" and int(f[1]) == len(paths), r.stdout
    return float(f[3]), float(f[5])


def bench_ours(binary, d, out, extra):
    cmd = [binary, "preprocess", "--input", d, "--output", out, "--decode-threads", "1", "--batch", "32"] + extra
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "webssl-dist"))
    ap.add_argument("--tool", default=None, help="image_tool (default: next to the build's src/)")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--side", type=int, default=640)
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tool = a.tool or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.bin))),
                                  "tests", "data", "image_tool")
    os.sched_setaffinity(0, {a.core})   # children inherit the single core
    with tempfile.TemporaryDirectory() as d:
        imgs = os.path.join(d, "imgs")
        os.makedirs(imgs)
        paths = make_corpus(imgs, a.images, a.side)
        out = os.path.join(d, "out.h5")
        n = len(paths)
        ref_ts, in_ts, prog_ts, ref_dec, in_dec = [], [], [], [], []
        for _ in range(a.rounds):
            ref_t, t_dec, ref = bench_torchvision(paths)
            ref_ts.append(ref_t)
            ref_dec.append(t_dec)
            t, t_dec = bench_inprocess(tool, paths, [])
            in_ts.append(t)
            in_dec.append(t_dec)
            prog_ts.append(bench_ours(a.bin, imgs, out, []))
        with h5py.File(out) as f:
            exact = f["pixels"][:]
            u8 = f["image"][:]
        err = max(float(np.abs(exact[i] - ref[i].numpy()).max()) for i in range(n))
        fast_in, _ = bench_inprocess(tool, paths, ["--fast"])
        fast_t = bench_ours(a.bin, imgs, out, ["--fast-decode"])
        with h5py.File(out) as f:
            fast = f["pixels"][:]
            fu8 = f["image"][:]
        med = lambda v: float(np.median(v))
        r_in = med([r / o for r, o in zip(ref_ts, in_ts)])
        r_prog = med([r / o for r, o in zip(ref_ts, prog_ts)])
        print(f"{n} JPEGs, longer side {a.side}, one core; crop 256 -> 224; {a.rounds} rounds "
              f"(ratio = median of per-round ratios)")
        print(f"  Pillow + torchvision        : {n / med(ref_ts):8.1f} images/s")
        print(f"  webssl-dist in-process      : {n / med(in_ts):8.1f} images/s   ratio {r_in:.2f}x")
        print(f"  webssl-dist program         : {n / med(prog_ts):8.1f} images/s   ratio {r_prog:.2f}x"
              f"   (start-up and HDF5 output included)")
        ms = lambda v: 1000 * med(v) / n
        print(f"  per image: Pillow decode {ms(ref_dec):.2f} ms + transforms "
              f"{ms(ref_ts) - ms(ref_dec):.2f} ms; ours decode {ms(in_dec):.2f} ms + preprocess "
              f"{ms(in_ts) - ms(in_dec):.2f} ms")
        print(f"  exact: max abs diff vs torchvision {err:.3g}")
        d8 = np.abs(fu8.astype(int) - u8.astype(int))
        print(f"  --fast-decode in-process    : {n / fast_in:8.1f} images/s   "
              f"{med(in_ts) / fast_in:.2f}x the exact path; program {n / fast_t:.1f} images/s; "
              f"uint8 max abs diff {d8.max()}, mean {d8.mean():.3f}; tensor max abs diff "
              f"{np.abs(fast - exact).max():.3g}")
        print(f"| {n} JPEGs, longer side {a.side} | {n / med(ref_ts):.1f} | {n / med(in_ts):.1f} "
              f"({r_in:.2f}x) | {n / med(prog_ts):.1f} ({r_prog:.2f}x) | {n / fast_in:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
