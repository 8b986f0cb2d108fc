"""Model inputs against torchvision: `webssl-dist preprocess` on a directory and on a WebDataset
tar, crop (Resize(256, bicubic) + CenterCrop(224)) and square (Resize((R, R))) modes, compared
with torchvision 0.14 transforms on Pillow images: uint8 images exactly, float tensors within
1e-6 (max abs error printed). Also checks keys, order and the per-shard split."""
import io
import os
import subprocess
import sys
import tarfile
import tempfile

import h5py
import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

BIN = os.environ["WEBSSL_BIN"]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
rng = np.random.default_rng(7)
SIZES = [(640, 480), (480, 640), (300, 300), (257, 1000), (1000, 257), (224, 224), (100, 60),
         (1, 1), (3, 700), (255, 256), (511, 383), (37, 223)]


def make_images(d):
    names = []
    for i, (w, h) in enumerate(SIZES):
        lo = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
        im = Image.fromarray(lo).resize((w, h), Image.BILINEAR)
        ext = ["jpg", "png", "webp"][i % 3]
        name = f"sub{i % 2}/img{i:03d}.{ext}"
        os.makedirs(os.path.join(d, f"sub{i % 2}"), exist_ok=True)
        im.save(os.path.join(d, name), quality=90)
        names.append(name)
    return sorted(names)


def reference(path, mode, R):
    if mode == "crop":
        tf = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(R)])
    else:
        tf = T.Resize((R, R), interpolation=T.InterpolationMode.BICUBIC)
    im = tf(Image.open(path).convert("RGB"))
    t = T.Normalize(MEAN, STD)(T.ToTensor()(im))
    return np.asarray(im), t.numpy()


def run(args):
    r = subprocess.run([BIN, "preprocess"] + args, capture_output=True, text=True)
    print(r.stdout.strip())
    if r.returncode != 0:
        print(r.stderr)
        sys.exit(f"preprocess exited with {r.returncode}")


def check(out, paths, keys, mode, R):
    worst = 0.0
    with h5py.File(out) as f:
        got_keys = [k.decode() for k in f["key"][:]]
        assert got_keys == keys, (got_keys, keys)
        assert (f["status"][:] == 0).all()
        for i, p in enumerate(paths):
            u8, t = reference(p, mode, R)
            assert np.array_equal(f["image"][i], u8), f"{p}: uint8 image differs from torchvision"
            err = np.abs(f["pixels"][i] - t).max()
            worst = max(worst, float(err))
    rel = worst / 2.64   # largest |normalised value| is (1 - 0.406) / 0.225
    print(f"{mode} R={R}: {len(paths)} images, uint8 exact, pixels max abs err {worst:.3g} (rel {rel:.3g})")
    assert worst <= 1e-6, worst


def main():
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "imgs")
        names = make_images(src)
        paths = [os.path.join(src, n) for n in names]
        out = os.path.join(d, "out.h5")
        run(["--input", src, "--output", out, "--shard-size", "5", "--decode-threads", "2", "--batch", "3"])
        with h5py.File(out) as f:
            shards = [s.decode() for s in f["shard"][:]]
        assert shards == [f"imgs-{i // 5:05d}" for i in range(len(names))], shards
        check(out, paths, names, "crop", 224)
        run(["--input", src, "--output", out, "--preprocess", "square", "--resolution", "252"])
        check(out, paths, names, "square", 252)
        # the same images in a WebDataset tar with metadata members
        tpath = os.path.join(d, "shard-000.tar")
        with tarfile.open(tpath, "w") as tf:
            for i, n in enumerate(names):
                key = f"{i:06d}"
                for ext, data in (("txt", b"caption"), (n.rsplit(".", 1)[1], open(os.path.join(src, n), "rb").read()), ("json", b"{}")):
                    ti = tarfile.TarInfo(f"{key}.{ext}")
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))
        run(["--input", os.path.join(d, "shard-{000..000}.tar"), "--output", out, "--decode-threads", "3", "--batch", "4"])
        check(out, paths, [f"{i:06d}" for i in range(len(names))], "crop", 224)
    print("ok")


if __name__ == "__main__":
    main()
