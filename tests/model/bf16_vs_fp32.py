"""bf16 compute against fp32 compute on the same random weights, through the GEMM path that
WEBSSL_GEMM selects (openblas: bf16 weights widened to f32; onednn: oneDNN's bf16 matmul, native
on CPUs with AVX512_BF16 / AMX). Runs the model_forward test driver twice (--dtype fp32, --dtype
bf16) and prints, per output tensor, the max abs error and the min cosine over tokens; fails when
any CLS or patch token has a cosine below MIN_COS[case] (the design's floor is 0.999). Exits 77
(CTest skip) when the selected path cannot
run bf16 on this CPU or build (the driver's error names WEBSSL_GEMM).

Cases: dino300m (the webssl-dino300m-full2b-224 shape, 1 image at 224) and heads21 (a DINO shape
with 21 heads of 64, 4 blocks, 2 images at 112).

usage: bf16_vs_fp32.py --tool PATH/model_forward --case dino300m|heads21
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

# Min cosine per case, bf16 against fp32 on the same weights. Measured on an Intel Xeon with
# AVX-512 and AVX512_BF16 (the widened OpenBLAS path; oneDNN's native bf16 matmul; bf16
# activations): heads21 0.999975 (4 blocks), dino300m 0.999931 widened and 0.999878 native (24
# blocks: 1 - cosine grows with depth). Each bound leaves 4x or more in 1 - cosine. Subtle
# precision faults stay above it (planted: truncation instead of round-to-nearest-even, dino300m
# 0.999778; a residual stream rounded to bf16, 0.999676): test_cpu_ops is where those fail.
MIN_COS = {"heads21": 0.9998, "dino300m": 0.9995}

HEADS21 = """name: test-heads21
family: dino
patch_size: 14
img_size: 112
embed_dim: 1344
depth: 4
num_heads: 21
ffn: swiglu
layerscale: true
qkv_bias: true
proj_bias: true
ffn_bias: true
norm_eps: 1.0e-6
num_register_tokens: 0
preprocess: {mode: square, resize: 112, crop: 112, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
"""


def run(tool, arch, pixels, B, R, dtype, tmp):
    out = os.path.join(tmp, dtype)
    cmd = [tool, "--random", arch, "--seed", "7", "--pixels", pixels, "--batch", str(B),
           "--resolution", str(R), "--out", out, "--dtype", dtype]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        if "WEBSSL_GEMM=" in r.stderr:
            print(f"SKIP: {dtype}: {r.stderr.strip()}")
            sys.exit(77)
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stderr}")
    print(f"{dtype}: {r.stderr.strip()}")
    return {k: np.fromfile(f"{out}.{k}", dtype=np.float32) for k in ("cls", "patch")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--case", required=True, choices=["dino300m", "heads21"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if a.case == "dino300m":
            arch, B, R, C = "webssl-dino300m-full2b-224", 1, 224, 1024
        else:
            arch, B, R, C = os.path.join(tmp, "heads21.yaml"), 2, 112, 1344
            with open(arch, "w") as f:
                f.write(HEADS21)
        pixels = os.path.join(tmp, "pixels.f32")
        np.random.default_rng(3).standard_normal((B, 3, R, R)).astype(np.float32).tofile(pixels)
        ref = run(a.tool, arch, pixels, B, R, "fp32", tmp)
        got = run(a.tool, arch, pixels, B, R, "bf16", tmp)
    ok = True
    print(f"case {a.case}: {arch} B={B} R={R} WEBSSL_GEMM={os.environ.get('WEBSSL_GEMM', 'auto')}")
    for k in ("cls", "patch"):
        r = ref[k].astype(np.float64).reshape(-1, C)
        g = got[k].astype(np.float64).reshape(-1, C)
        err = np.abs(r - g).max()
        cos = (r * g).sum(1) / (np.linalg.norm(r, axis=1) * np.linalg.norm(g, axis=1))
        good = cos.min() >= MIN_COS[a.case]
        print(f"{k:6s} tokens {r.shape[0]:4d}  max abs err {err:.3e}  max abs err / max|fp32| "
              f"{err / np.abs(r).max():.3e}  min cosine {cos.min():.6f}  mean cosine {cos.mean():.6f}"
              + ("" if good else f"   <-- FAIL (needs >= {MIN_COS[a.case]})"))
        ok &= bool(good)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
