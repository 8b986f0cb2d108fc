"""GPU speed, side by side in one run on one GPU: webssl-dist (--device cuda) against PyTorch 2.x +
transformers (bf16 weights, SDPA attention), eager and under torch.compile, plus the attention kernel
against torch.nn.functional.scaled_dot_product_attention, and the GPU's measured bf16 GEMM throughput.
Runs are interleaved (webssl, torch, webssl, ...) and the best of --rounds is kept for each. Prints a
markdown table (also written to --markdown FILE) to paste into docs/performance.md, with the GPU
named, and writes every figure to --json FILE.

Targets (issue "CUDA engine v2"): webssl >= 1.3x torch bf16 SDPA images/s on webssl-dino1b at batch 64
and on the 7B at 518 px batch 8; >= 50 % of the dense bf16 peak (PEAK_DENSE_BF16, H100/H200) on the
7B at 518 px.

usage: bench_cuda_vs_torch.py --bin BUILD/src/webssl-dist --attn-bin BUILD/tests/gpu/bench_attention
                              [--rounds 3] [--iters 10] [--markdown FILE] [--json FILE]
                              [--no-compile] [--skip-7b]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from transformers import Dinov2Config, Dinov2Model

PEAK_DENSE_BF16 = 989.0  # TFLOP/s, H100/H200 SXM dense bf16 (no sparsity)
TARGET_RATIO, TARGET_PEAK_FRACTION = 1.3, 0.5

# (arch, C, L, NH, FFN hidden, img, resolution, batch)
MODELS = [
    ("webssl-dino1b-full2b-224", 1536, 40, 24, 4096, 224, 224, 64),
    ("webssl-dino7b-full8b-518", 4096, 32, 32, 10928, 518, 518, 8),
]
ATTN_SHAPES = [  # (B, N, NH, hs): dino1b at 224, mae700m at 224, dino7b at 518
    (64, 257, 24, 64),
    (64, 257, 16, 80),
    (8, 1370, 32, 128),
]


def gemm_tflops(n=8192, iters=50):
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize()
    return 2.0 * n ** 3 * iters / (time.perf_counter() - t) / 1e12


def torch_images_per_s(C, L, NH, H, img, R, B, iters, compile_model=False):
    # Dinov2 derives the SwiGLU hidden size from mlp_ratio 4 by the rule that gives the published H.
    cfg = Dinov2Config(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, mlp_ratio=4,
                       image_size=img, patch_size=14, layer_norm_eps=1e-6, use_swiglu_ffn=True,
                       attn_implementation="sdpa")
    model = Dinov2Model(cfg).to("cuda", torch.bfloat16).eval()
    if compile_model:
        model = torch.compile(model)   # compiled by the first (untimed) call below
    x = torch.randn(B, 3, R, R, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        model(pixel_values=x)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(iters):
            model(pixel_values=x)
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t) / iters
    del model
    torch.cuda.empty_cache()
    return B / dt


def webssl_bench(binary, arch, R, B, iters):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [binary, "bench", "--arch", arch, "--batch", str(B), "--iters", str(iters), "--warmup", "2",
               "--resolution", str(R), "--dtype", "bf16", "--device", "cuda", "--json", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stderr}")
        with open(out) as f:
            return json.load(f)


def sdpa_tflops(B, N, NH, hs, iters=20):
    q, k, v = (torch.randn(B, NH, N, hs, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    F.scaled_dot_product_attention(q, k, v)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        F.scaled_dot_product_attention(q, k, v)
    torch.cuda.synchronize()
    return 4.0 * B * NH * N * N * hs * iters / (time.perf_counter() - t) / 1e12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--attn-bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs")
    ap.add_argument("--skip-7b", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("SKIP bench_cuda_vs_torch: torch sees no CUDA device")
        sys.exit(77)
    compile_ok = not args.no_compile and hasattr(torch, "compile")
    gpu = torch.cuda.get_device_name(0)
    gemm = max(gemm_tflops() for _ in range(args.rounds))
    result = {"gpu": gpu, "torch": torch.__version__, "gemm_bf16_tflops_measured": gemm,
              "peak_dense_bf16_tflops": PEAK_DENSE_BF16, "models": [], "attention": []}
    lines = [f"GPU: {gpu}; torch {torch.__version__}; measured bf16 GEMM (8192^3): {gemm:.0f} TFLOP/s; "
             f"dense bf16 peak {PEAK_DENSE_BF16:.0f} TFLOP/s", "",
             "| model | R | batch | webssl img/s | torch SDPA img/s | ratio | torch.compile img/s | ratio | "
             "webssl TFLOP/s | of peak |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for arch, C, L, NH, H, img, R, B in MODELS:
        if args.skip_7b and C >= 4096:
            continue
        ours, eager, compiled, tflops = 0.0, 0.0, 0.0, 0.0
        for _ in range(args.rounds):
            j = webssl_bench(args.bin, arch, R, B, args.iters)
            if j["images_per_second"] > ours:
                ours, tflops = j["images_per_second"], j["gflops_per_second"] / 1e3
            eager = max(eager, torch_images_per_s(C, L, NH, H, img, R, B, args.iters))
        if compile_ok:   # one compile per model (minutes), timed once
            compiled = torch_images_per_s(C, L, NH, H, img, R, B, args.iters, compile_model=True)
        row = {"arch": arch, "resolution": R, "batch": B, "webssl_images_per_s": ours,
               "torch_sdpa_images_per_s": eager, "ratio_vs_sdpa": ours / eager,
               "torch_compile_images_per_s": compiled or None,
               "ratio_vs_compile": ours / compiled if compiled else None,
               "webssl_tflops": tflops, "fraction_of_peak": tflops / PEAK_DENSE_BF16,
               "fraction_of_measured_gemm": tflops / gemm}
        row["meets_ratio_target"] = row["ratio_vs_sdpa"] >= TARGET_RATIO
        if C >= 4096:
            row["meets_peak_target"] = row["fraction_of_peak"] >= TARGET_PEAK_FRACTION
        result["models"].append(row)
        comp = f"{compiled:.1f} | {ours / compiled:.2f}x" if compiled else "- | -"
        lines.append(f"| {arch} | {R} | {B} | {ours:.1f} | {eager:.1f} | {ours / eager:.2f}x | {comp} | "
                     f"{tflops:.0f} | {100 * tflops / PEAK_DENSE_BF16:.0f}% |")
    lines += ["", "| attention B x N x NH x hs | webssl kernel TFLOP/s | torch SDPA TFLOP/s | ratio |",
              "|---|---|---|---|"]
    for B, N, NH, hs in ATTN_SHAPES:
        ours, theirs = 0.0, 0.0
        for _ in range(args.rounds):
            r = subprocess.run([args.attn_bin, str(B), str(N), str(NH), str(hs)], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"FAIL: bench_attention\n{r.stderr}")
            ours = max(ours, json.loads(r.stdout.strip().splitlines()[-1])["tflops"])
            theirs = max(theirs, sdpa_tflops(B, N, NH, hs))
        result["attention"].append({"B": B, "N": N, "NH": NH, "hs": hs, "webssl_tflops": ours,
                                    "sdpa_tflops": theirs, "ratio": ours / theirs})
        lines.append(f"| {B} x {N} x {NH} x {hs} | {ours:.0f} | {theirs:.0f} | {ours / theirs:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
