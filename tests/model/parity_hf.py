"""Parity of the webssl forward pass with HuggingFace transformers (Dinov2Model, ViTModel).

Each case builds a small random transformers model (every parameter randomised, LayerScale per
channel, LayerNorm eps 1e-6), saves it with save_pretrained, runs transformers and the
model_forward test driver on the same random pixels, and compares CLS, patch tokens and patch
mean. It prints the max abs error and max abs error / max |ref| per tensor and fails past:
  fp32 compute: max abs err <= FP32_TOL (FP32_TOL_CASE for dino300m) * max |ref| (below: the
                measured error and the planted fault the tolerance sits between)
  bf16 compute (vs torch.autocast bf16): cosine similarity >= BF16_MIN_COS for every token.

usage: parity_hf.py --tool PATH/model_forward --case NAME
With WEBSSL_GEMM set to a GEMM path this CPU or build cannot run, exits 77 (CTest skip).
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Dinov2Config, Dinov2Model, ViTConfig, ViTModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from webssl_test import randomise  # noqa: E402  (re-exported to parity_layouts)

torch.set_num_threads(2)

# fp32 tolerance, as max abs err / max |ref|. Measured against transformers (Intel Xeon with
# AVX-512; OpenBLAS and oneDNN): 2.7e-7 to 1.1e-6 on the small models (2-3 blocks, width <= 96,
# every case here and in parity_layouts.py; the same in the sanitizer build), 1.0e-6 on dino300m
# (24 blocks of width 1024): some 5 to 19 f32 roundings (u = 6e-8) through GEMMs, softmax and
# LayerNorm. 3e-6 leaves about 3x for another CPU's summation order and fails a LayerNorm epsilon
# ten times too large (1e-5 for 1e-6), which moves the cases by 4.5e-6 (ckpt_bf16) to 2e-5
# (posembed_original) (planted and checked); the former 1e-4 let that fault pass. dino300m: 2.1e-6
# in the sanitizer build, whose LayerNorms sum their 1024 values one at a time instead of in
# vector lanes, and 1.7e-5 under that fault: 6e-6.
FP32_TOL = 3e-6
FP32_TOL_CASE = {"dino300m": 6e-6}
# bf16 against torch.autocast: min cosine over tokens, measured 0.999967 (compute_bf16: 3 blocks;
# widened, oneDNN and bf16 activations alike). 0.9998 leaves 6x in 1 - cosine. A cosine cannot
# tell the subtle bf16 faults from rounding noise: truncation instead of round-to-nearest-even
# (0.999900) or a residual stream rounded to bf16 (0.999953) pass it; test_cpu_ops fails the
# first (its bf16 rounding checks) and the second (the f32 residual check). This bound catches
# the coarse ones, such as a bf16 GEMM without f32 accumulation.
BF16_MIN_COS = 0.9998


def dinov2(C=48, L=2, NH=3, img=56, patch=14, seed=0):
    cfg = Dinov2Config(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, mlp_ratio=4,
                       image_size=img, patch_size=patch, layer_norm_eps=1e-6, use_swiglu_ffn=True,
                       layerscale_value=1.0, qkv_bias=True)
    torch.manual_seed(seed)
    return randomise(Dinov2Model(cfg), seed)


def vit(C=48, L=2, NH=3, img=64, patch=16, seed=0):
    cfg = ViTConfig(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH,
                    intermediate_size=4 * C, image_size=img, patch_size=patch, layer_norm_eps=1e-6,
                    qkv_bias=True, hidden_act="gelu")
    torch.manual_seed(seed)
    return randomise(ViTModel(cfg, add_pooling_layer=True), seed)


def original_interpolate(model):
    """Replace transformers' position-embedding interpolation with the original DINOv2 / Web-SSL
    rule: bicubic with scale_factor (g_new + 0.1) / g_old."""
    emb = model.embeddings

    def interp(embeddings, height, width):
        n = embeddings.shape[1] - 1
        pos = emb.position_embeddings
        g_old = int(math.sqrt(pos.shape[1] - 1))
        if n == g_old * g_old and height == width:
            return pos
        dim = pos.shape[-1]
        gh, gw = height // emb.patch_size, width // emb.patch_size
        patch_pos = pos[:, 1:].reshape(1, g_old, g_old, dim).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, scale_factor=((gh + 0.1) / g_old, (gw + 0.1) / g_old),
                                  mode="bicubic", align_corners=False, antialias=False)
        assert patch_pos.shape[-2:] == (gh, gw)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((pos[:, :1], patch_pos), dim=1)

    emb.interpolate_pos_encoding = interp


def reference(model, pixels, bf16=False):
    x = torch.from_numpy(pixels)
    kwargs = {"interpolate_pos_encoding": True} if isinstance(model, ViTModel) else {}
    with torch.no_grad():
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                h = model(pixel_values=x, **kwargs).last_hidden_state
        else:
            h = model(pixel_values=x, **kwargs).last_hidden_state
    h = h.float().numpy()
    return {"cls": h[:, 0], "patch": h[:, 1:], "patch_mean": h[:, 1:].mean(axis=1)}


def run_tool(tool, model_dir, pixels, tmp, dtype="fp32", tp=1, posembed="hf", mpi=0):
    B, _, R, _ = pixels.shape
    pix = os.path.join(tmp, "pixels.f32")
    pixels.astype(np.float32).tofile(pix)
    out = os.path.join(tmp, "out")
    cmd = [tool, "--model", model_dir, "--pixels", pix, "--batch", str(B), "--resolution", str(R),
           "--out", out, "--dtype", dtype, "--posembed", posembed]
    env = os.environ
    if mpi:   # one MPI process per TP rank
        cmd = [os.environ.get("WEBSSL_MPIEXEC") or "mpirun", "-n", str(mpi)] + cmd + ["--mpi", "1"]
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")
    else:     # tp ranks as threads of one process
        cmd += ["--tp", str(tp)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0 and "WEBSSL_GEMM=" in r.stderr:   # a forced GEMM path this CPU cannot run
        print(f"SKIP: {r.stderr.strip()}")
        sys.exit(77)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stderr}")
    print(r.stderr.strip())
    got = {k: np.fromfile(f"{out}.{k}", dtype=np.float32) for k in ("cls", "patch_mean", "patch")}
    return got


def compare(ref, got, bf16=False, tol=FP32_TOL):
    """Print the error of each output; True when every one is within tol (fp32: max abs err /
    max |ref|) or BF16_MIN_COS (bf16)."""
    ok = True
    for k in ("cls", "patch", "patch_mean"):
        r = ref[k].astype(np.float64)
        g = got[k].astype(np.float64).reshape(r.shape)
        err = np.abs(r - g).max()
        scale = np.abs(r).max()
        line = f"{k:11s} shape {str(list(r.shape)):16s} max abs err {err:.3e}  max abs err / max|ref| {err / scale:.3e}"
        if bf16:
            rr = r.reshape(-1, r.shape[-1])
            gg = g.reshape(-1, r.shape[-1])
            cos = (rr * gg).sum(1) / (np.linalg.norm(rr, axis=1) * np.linalg.norm(gg, axis=1))
            line += f"  min cosine {cos.min():.6f}"
            good = cos.min() >= BF16_MIN_COS
        else:
            good = err <= tol * scale
        print(line + ("" if good else "   <-- FAIL"))
        ok &= bool(good)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--case", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    c = a.case
    dtype, tp, posembed, bf16_ref, save_dtype, shard, mpi = "fp32", 1, "hf", False, None, None, 0
    if c == "dinov2":
        model, B, R = dinov2(), 1, 56
    elif c == "dinov2_batch_res":   # batch > 1, resolution 70 (5x5 grid) from a native 4x4
        model, B, R = dinov2(seed=2), 3, 70
    elif c == "vit_p16":
        model, B, R = vit(), 2, 64
    elif c == "vit_res":            # patch 16, 6x6 grid from a native 4x4
        model, B, R = vit(seed=3), 2, 96
    elif c == "heads21_tp":         # 21 heads over 2 ranks (11 + 10), odd FFN split
        model, B, R, tp = dinov2(C=84, NH=21, seed=4), 2, 56, 2
    elif c == "dinov2_tp3":         # 3 heads over 3 ranks, FFN 128 over 3
        model, B, R, tp = dinov2(seed=5), 2, 42, 3
    elif c == "mpi_tp2":            # 21 heads over 2 MPI ranks, bf16 checkpoint
        model, B, R, mpi, save_dtype = dinov2(C=84, NH=21, seed=12), 2, 70, 2, torch.bfloat16
    elif c == "sharded":
        model, B, R, shard = dinov2(C=96, NH=3, L=3, seed=6), 1, 56, "100KB"
    elif c == "ckpt_f16":
        model, B, R, save_dtype = dinov2(seed=7), 2, 56, torch.float16
    elif c == "ckpt_bf16":
        model, B, R, save_dtype = vit(seed=8), 2, 64, torch.bfloat16
    elif c == "compute_bf16":
        model, B, R, dtype, bf16_ref = dinov2(C=96, L=3, seed=9), 2, 56, "bf16", True
    elif c == "posembed_original":
        model, B, R, posembed = dinov2(seed=10), 2, 84, "original"
        original_interpolate(model)
    elif c == "dino300m":
        model = dinov2(C=1024, L=24, NH=16, img=224, seed=11)
        assert model.encoder.layer[0].mlp.weights_in.out_features == 2 * 2736
        B, R = 1, 224
    else:
        sys.exit(f"unknown case {c}")
    pixels = rng.standard_normal((B, 3, R, R)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        mdir = os.path.join(tmp, "model")
        if save_dtype is not None:
            model = model.to(save_dtype)
            model.save_pretrained(mdir)
            model = model.float()   # the reference runs on the rounded weights, in f32
        elif shard:
            model.save_pretrained(mdir, max_shard_size=shard)
            assert os.path.exists(os.path.join(mdir, "model.safetensors.index.json"))
        else:
            model.save_pretrained(mdir)
        got = run_tool(a.tool, mdir, pixels, tmp, dtype=dtype, tp=tp, posembed=posembed, mpi=mpi)
    ref = reference(model, pixels, bf16=bf16_ref)
    print(f"case {c}: {type(model).__name__} B={B} R={R} compute={dtype} tp={mpi or tp}"
          f"{' (MPI)' if mpi else ''} posembed={posembed}")
    tol = FP32_TOL_CASE.get(c, FP32_TOL)
    print(f"tolerance: {f'min cosine {BF16_MIN_COS}' if bf16_ref else f'max abs err <= {tol:g} * max|ref|'}")
    sys.exit(0 if compare(ref, got, bf16=bf16_ref, tol=tol) else 1)


if __name__ == "__main__":
    main()
