"""Single-core decode + preprocess throughput: `webssl-dist preprocess --threads 1` against Pillow +
torchvision (Resize(256, bicubic), CenterCrop(224), ToTensor, Normalize) on the same JPEG files,
both pinned to one core; prints images per CPU-second (user + sys, so other load on the machine
does not count; ours includes program start and writing the HDF5 file) and the ratio. Then the same with
--fast-decode: its speed-up and how far its pixels move from the exact path.
usage: bench_preprocess.py [--bin webssl-dist] [--images N] [--side S] [--core C]"""
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
    torch.set_num_threads(1)
    tf = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                    T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    t0 = time.process_time()
    out = [tf(Image.open(p).convert("RGB")) for p in paths]
    return time.process_time() - t0, out


def bench_ours(binary, d, out, extra):
    cmd = [binary, "preprocess", "--input", d, "--output", out, "--threads", "1", "--batch", "32"] + extra
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "webssl-dist"))
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--side", type=int, default=640)
    ap.add_argument("--core", type=int, default=0)
    a = ap.parse_args()
    os.sched_setaffinity(0, {a.core})   # children inherit the single core
    with tempfile.TemporaryDirectory() as d:
        imgs = os.path.join(d, "imgs")
        os.makedirs(imgs)
        paths = make_corpus(imgs, a.images, a.side)
        out = os.path.join(d, "out.h5")
        ref_t, ref = bench_torchvision(paths)
        our_t = bench_ours(a.bin, imgs, out, [])
        with h5py.File(out) as f:
            exact = f["pixels"][:]
            u8 = f["image"][:]
        err = max(float(np.abs(exact[i] - ref[i].numpy()).max()) for i in range(len(paths)))
        fast_t = bench_ours(a.bin, imgs, out, ["--fast-decode"])
        with h5py.File(out) as f:
            fast = f["pixels"][:]
            fu8 = f["image"][:]
        n = len(paths)
        print(f"{n} JPEGs, longer side {a.side}, one core; crop 256 -> 224")
        print(f"  Pillow + torchvision : {n / ref_t:8.1f} images/s")
        print(f"  webssl-dist (exact)  : {n / our_t:8.1f} images/s   ratio {ref_t / our_t:.2f}x   "
              f"max abs diff vs torchvision {err:.3g}")
        d8 = np.abs(fu8.astype(int) - u8.astype(int))
        print(f"  webssl-dist --fast-decode: {n / fast_t:8.1f} images/s   {our_t / fast_t:.2f}x the exact path; "
              f"uint8 max abs diff {d8.max()}, mean {d8.mean():.3f}; tensor max abs diff "
              f"{np.abs(fast - exact).max():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
