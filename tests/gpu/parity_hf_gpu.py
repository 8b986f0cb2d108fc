"""Parity of the webssl forward pass on the GPU (--device cuda) with HuggingFace transformers on
the GPU, for both families (Dinov2Model, ViTModel), head sizes 64, 80 and 128, native and
non-native resolutions, both position-embedding rules, fp32 and bf16.

The models are the random transformers models of tests/model/parity_hf.py, at widths whose head
sizes take the GPU attention kernels' tensor-core paths. transformers runs on cuda with SDPA
attention: fp32 with TF32 off, bf16 under torch.autocast("cuda"). Tolerances, as on the CPU:
  fp32: max abs err <= FP32_TOL (3e-6) * max |ref|, parity_hf.py's bound on the CPU (not yet measured
  on a GPU);   bf16: cosine >= BF16_MIN_COS for every token.
Exits 77 (skipped) when torch has no CUDA device.

usage: parity_hf_gpu.py --tool PATH/model_forward
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
from parity_hf import compare, dinov2, original_interpolate, vit  # noqa: E402
from transformers import ViTModel  # noqa: E402

# (name, builder, kwargs, resolution, posembed rule)
CASES = [
    ("dinov2 hs64 native", dinov2, dict(C=256, NH=4, img=224), 224, "hf"),
    ("dinov2 hs128 224->280 original", dinov2, dict(C=256, NH=2, img=224), 280, "original"),
    ("dinov2 hs64 224->378 hf", dinov2, dict(C=256, NH=4, img=224), 378, "hf"),
    ("vit hs80 patch16 native", vit, dict(C=160, NH=2, img=224, patch=16), 224, "hf"),
    ("vit hs64 224->160", vit, dict(C=256, NH=4, img=224, patch=16), 160, "hf"),
]


def reference_cuda(model, pixels, bf16):
    x = torch.from_numpy(pixels).cuda()
    kwargs = {"interpolate_pos_encoding": True} if isinstance(model, ViTModel) else {}
    with torch.no_grad():
        if bf16:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                h = model(pixel_values=x, **kwargs).last_hidden_state
        else:
            h = model(pixel_values=x, **kwargs).last_hidden_state
    h = h.float().cpu().numpy()
    return {"cls": h[:, 0], "patch": h[:, 1:], "patch_mean": h[:, 1:].mean(axis=1)}


def run_tool_cuda(tool, model_dir, pixels, tmp, dtype, posembed):
    B, _, R, _ = pixels.shape
    pix = os.path.join(tmp, "pixels.f32")
    pixels.astype(np.float32).tofile(pix)
    out = os.path.join(tmp, "out")
    cmd = [tool, "--model", model_dir, "--pixels", pix, "--batch", str(B), "--resolution", str(R),
           "--out", out, "--dtype", dtype, "--posembed", posembed, "--device", "cuda"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stderr}")
    return {k: np.fromfile(f"{out}.{k}", dtype=np.float32) for k in ("cls", "patch_mean", "patch")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("SKIP parity_hf_gpu: torch sees no CUDA device (no GPU, or a CPU-only torch build)")
        sys.exit(77)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    ok = True
    rng = np.random.default_rng(0)
    for name, build, kw, R, rule in CASES:
        model = build(**kw)
        model.config._attn_implementation = "sdpa"
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            if rule == "original":
                original_interpolate(model)
            model = model.cuda()
            pixels = rng.standard_normal((2, 3, R, R)).astype(np.float32)
            for dtype in ("fp32", "bf16"):
                print(f"== {name} R={R} {dtype}")
                ref = reference_cuda(model, pixels, dtype == "bf16")
                got = run_tool_cuda(args.tool, tmp, pixels, tmp, dtype, rule)
                ok &= compare(ref, got, bf16=dtype == "bf16")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
