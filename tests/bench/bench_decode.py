"""Decoding throughput per core and the fidelity of `--decode fast`, on photo-like JPEGs made from
skimage's photographs (quality 90) at two sizes: 256 px on the longer side, and web size (longer
side 800, 1200, 1600, 2000 px in turn: upscaled from photographs of 300-1400 px, so they hold
less fine detail than camera JPEGs of that size).

Throughput, one core, CPU seconds (user + sys: other load on the machine does not count), the
loops interleaved round by round; every loop decodes and makes the 224 x 224 float tensor
(resize 256, centre crop 224, ImageNet normalisation):
  pillow       Image.open + convert("RGB") + torchvision transforms (the exact reference)
  pillow-draft the same after Image.draft("RGB", (256, 256)) (Pillow's DCT-scaled decode)
  tvio         torchvision.io.decode_jpeg + resize (antialias) + crop + normalise on tensors
  exact        image_tool --bench (this program's decoder and preprocessing, in process)
  fast         image_tool --bench --fast (`--decode fast`)
plus the page faults of the exact loop with a pixel buffer reused (as the pipeline does) and
allocated per image (--fresh).

Fidelity of fast against exact, per image: the cosine of the preprocessed tensors (preprocess
command), and the cosine of the embeddings of `embed` (CLS, f32) with a small random-weight
ViT (no published weights on this machine: the embedding figure shows how far the model's
input moves, not a trained model's sensitivity to it).
usage: bench_decode.py [--bin webssl-dist] [--tool image_tool] [--images N] [--rounds R] [--core C]"""
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
import torchvision
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from webssl_test import ENV, tiny_model  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def photos():
    sk = os.path.join(os.path.dirname(skimage.__file__), "data")
    names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "retina.jpg",
             "motorcycle_left.png", "camera.png", "brick.png", "grass.png", "gravel.png", "moon.png", "page.png",
             "coins.png", "ihc.png"]
    return [Image.open(os.path.join(sk, n)).convert("RGB") for n in names if os.path.exists(os.path.join(sk, n))]


def make_corpus(d, n, sides):
    os.makedirs(d, exist_ok=True)
    ph, paths = photos(), []
    for i in range(n):
        p, side = ph[i % len(ph)], sides[i % len(sides)]
        s = side / max(p.size)
        im = p.resize((max(1, round(p.width * s)), max(1, round(p.height * s))), Image.BICUBIC)
        path = os.path.join(d, f"{i:05d}.jpg")
        im.save(path, quality=90)
        paths.append(path)
    return paths


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loop_pillow(paths, draft):
    tf = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize(MEAN, STD)])
    t0 = cpu()
    for p in paths:
        im = Image.open(p)
        if draft:
            im.draft("RGB", (256, 256))
        tf(im.convert("RGB"))
    return cpu() - t0


def loop_tvio(paths):
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    t0 = cpu()
    for p in paths:
        x = torchvision.io.decode_jpeg(torchvision.io.read_file(p), mode=torchvision.io.ImageReadMode.RGB)
        x = T.functional.resize(x, 256, interpolation=T.InterpolationMode.BICUBIC, antialias=True)
        x = T.functional.center_crop(x, 224)
        ((x.float() / 255 - mean) / std)
    return cpu() - t0


def loop_ours(tool, paths, extra):
    r = subprocess.run([tool, "--bench", "256", "224"] + extra + paths, check=True, capture_output=True, text=True)
    f = r.stdout.split()
    return float(f[3]), int(f[7])


def cosines(a, b):
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def fidelity(binary, d, work, model):
    out = {}
    for mode in ("exact", "fast"):
        h5 = os.path.join(work, f"pp-{mode}.h5")
        subprocess.run([binary, "preprocess", "--input", d, "--output", h5, "--decode", mode], check=True,
                       capture_output=True)
        with h5py.File(h5) as f:
            out["pix", mode] = f["pixels"][:]
        o = os.path.join(work, f"emb-{mode}")
        subprocess.run([binary, "embed", "--model", model, "--input", d, "--output", o, "--decode", mode,
                        "--out-dtype", "f32", "--resolution", "224"], check=True, capture_output=True, env=ENV)
        with h5py.File(os.path.join(o, os.path.basename(d.rstrip("/")) + "-00000.h5")) as f:
            out["emb", mode] = f["cls"][:]
    return cosines(out["pix", "exact"], out["pix", "fast"]), cosines(out["emb", "exact"], out["emb", "fast"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "webssl-dist"))
    ap.add_argument("--tool", default=None)
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--core", type=int, default=0)
    a = ap.parse_args()
    tool = a.tool or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.bin))), "tests", "data",
                                  "image_tool")
    torch.set_num_threads(1)
    cpu_name = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    work = tempfile.mkdtemp(prefix="bench_decode_")
    model = os.path.join(work, "vit")
    tiny_model("dino", model, C=192, L=4, NH=3, img=224)
    corpora = {"256 px": make_corpus(os.path.join(work, "small"), a.images, [256]),
               "web size": make_corpus(os.path.join(work, "web"), a.images, [800, 1200, 1600, 2000])}
    os.sched_setaffinity(0, {a.core})   # this process and the image_tool children: one core
    print(f"CPU: {cpu_name}; one core; {a.rounds} interleaved rounds; load average before "
          f"{os.getloadavg()[0]:.1f}")
    for name, paths in corpora.items():
        kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
        mpx = np.mean([np.prod(Image.open(p).size) for p in paths]) / 1e6
        t = {k: [] for k in ("pillow", "pillow-draft", "tvio", "exact", "fast")}
        for _ in range(a.rounds):
            t["pillow"].append(loop_pillow(paths, False))
            t["pillow-draft"].append(loop_pillow(paths, True))
            t["tvio"].append(loop_tvio(paths))
            t["exact"].append(loop_ours(tool, paths, [])[0])
            t["fast"].append(loop_ours(tool, paths, ["--fast"])[0])
        _, flt_reuse = loop_ours(tool, paths, [])
        _, flt_fresh = loop_ours(tool, paths, ["--fresh"])
        n = len(paths)
        med = lambda v: float(np.median(v))  # noqa: E731
        ratio = lambda k: med([p / o for p, o in zip(t["pillow"], t[k])])  # noqa: E731
        print(f"\n{name}: {n} JPEGs, {mpx:.2f} Mpx and {kb:.0f} KB on average")
        print("| loop | images/s per core | vs Pillow (median of per-round ratios) |")
        print("|---|---|---|")
        for k in t:
            print(f"| {k} | {n / med(t[k]):.1f} | {ratio(k):.2f}x |")
        print(f"page faults per image, exact loop: {flt_reuse / n:.1f} with the buffer reused, "
              f"{flt_fresh / n:.1f} with a fresh buffer per image")
        cp, ce = fidelity(a.bin, os.path.dirname(paths[0]) + "/", work, model)
        print(f"fast vs exact, per image: tensor cosine min {cp.min():.5f} median {np.median(cp):.5f}; "
              f"embedding cosine min {ce.min():.5f} median {np.median(ce):.5f}")
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
