"""Helpers for the embed driver tests: tiny transformers models saved with save_pretrained,
small JPEG collections, running `webssl-dist embed` under mpirun, reading outputs with h5py,
and the transformers reference for a batch of images preprocessed by Pillow/torchvision."""
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
from PIL import Image

BIN = os.environ["WEBSSL_BIN"]
MPIEXEC = os.environ.get("WEBSSL_MPIEXEC") or "mpirun"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1", SOURCE_DATE_EPOCH="1700000000")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
torch.set_num_threads(2)


def randomise(model, seed):
    """Non-trivial random values for every parameter, so each one matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lambda1"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.9 + 0.1)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def tiny_model(family, path, C=64, L=2, NH=4, img=56, seed=0):
    """Save a tiny Dinov2 (SwiGLU, LayerScale) or ViT (MAE) model; returns the torch model."""
    from transformers import Dinov2Config, Dinov2Model, ViTConfig, ViTModel
    torch.manual_seed(seed)
    if family == "dino":
        cfg = Dinov2Config(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, mlp_ratio=4,
                           image_size=img, patch_size=14, layer_norm_eps=1e-6, use_swiglu_ffn=True,
                           layerscale_value=1.0, qkv_bias=True)
        m = randomise(Dinov2Model(cfg), seed)
    else:
        cfg = ViTConfig(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH,
                        intermediate_size=4 * C, image_size=img, patch_size=16, layer_norm_eps=1e-6,
                        qkv_bias=True, hidden_act="gelu")
        m = randomise(ViTModel(cfg, add_pooling_layer=False), seed)
    m.save_pretrained(path)
    return m


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


def embed_cmd(np_, args, tp=1):
    return [MPIEXEC, "--oversubscribe", "--allow-run-as-root", "-np", str(np_), BIN, "embed",
            "--tp", str(tp)] + args


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


def compare(name, x, ref, rel_tol):
    """Print max abs and relative (to max |ref|) error; returns 1 on failure."""
    err = float(np.abs(x.astype(np.float64) - ref).max()) if x.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 1.0
    rel = err / scale if scale else err
    ok = x.shape == ref.shape and rel <= rel_tol
    print(f"  {name:28s} shape {str(x.shape):16s} max abs err {err:.3g}  rel {rel:.3g}  (tol {rel_tol:g}) {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1
