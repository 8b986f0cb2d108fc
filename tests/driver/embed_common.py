"""Helpers for the embed driver tests (the generic ones are in tests/python/webssl_test.py):
small JPEG collections, a work directory with a tiny model, running `webssl-dist embed` under
mpirun, counted checks, reading outputs with h5py, and the transformers reference for a batch of
images preprocessed by Pillow/torchvision."""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from webssl_test import BIN, ENV, MPIRUN, fresh_dir, tiny_model  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
torch.set_num_threads(2)


def make_images(d, n, seed=0, bad=()):
    """n JPEG photos-like images of varied sizes (smooth gradients plus noise), plus zero-byte or
    garbage files named in `bad`."""
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = 40 + (i * 13) % 50, 50 + (i * 29) % 60
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x / w, y / h, (x + y) / (w + h)], -1) * 200
        a = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(os.path.join(d, f"img{i:04d}.jpg"), quality=90)
    for name in bad:
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"\xff\xd8 not really a jpeg")


def work_with_model(path):
    """A fresh work directory at `path` holding a tiny Web-DINO model (dino/); returns both paths."""
    work = fresh_dir(path)
    model = os.path.join(work, "dino")
    tiny_model("dino", model, C=48, NH=3)
    return work, model


_fails = [0]


def check(cond, what):
    """Print one line for a check; a false `cond` counts as a failure (see finish)."""
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    _fails[0] += 0 if cond else 1
    return cond


def finish(name):
    """Print the verdict of the checks made and exit with 1 when any failed."""
    print(f"{name}:", "FAILED" if _fails[0] else "passed")
    sys.exit(1 if _fails[0] else 0)


def embed_cmd(np_, args, tp=1):
    return MPIRUN + ["-np", str(np_), BIN, "embed", "--tp", str(tp)] + args


def run_embed(np_, args, tp=1, expect=0, env=None):
    cmd = embed_cmd(np_, args, tp)
    p = subprocess.run(cmd, env=env or ENV, capture_output=True, text=True, timeout=170)
    if p.returncode != expect:
        sys.stdout.write(p.stdout)
        sys.stdout.write(p.stderr)
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {p.returncode}, expected {expect}")
    return p


def read_shards(d):
    """{dataset: concatenation over the shard files in name order}, plus the per-file bytes."""
    names = sorted(n for n in os.listdir(d) if n.endswith(".h5") and not n.startswith(".") and n != "index.h5")
    out = {}
    for n in names:
        with h5py.File(os.path.join(d, n), "r") as f:
            for k in f.keys():
                v = f[k][:]
                out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}, names


def file_bytes(d):
    return {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)
            if n.endswith(".h5") and not n.startswith(".")}


def temp_files(d):
    return [n for n in os.listdir(d) if ".tmp." in n]


def reference(model, paths, R):
    """transformers outputs for images square-resized with Pillow bicubic (as the official
    demos do), ToTensor + ImageNet normalisation."""
    xs = []
    for p in paths:
        im = Image.open(p).convert("RGB").resize((R, R), Image.BICUBIC)
        a = (np.asarray(im, np.float32) / 255.0 - MEAN) / STD
        xs.append(a.transpose(2, 0, 1))
    with torch.no_grad():
        h = model(pixel_values=torch.from_numpy(np.stack(xs))).last_hidden_state.numpy()
    return {"cls": h[:, 0], "patch_mean": h[:, 1:].mean(1), "patch": h[:, 1:]}

