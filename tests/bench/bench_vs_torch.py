"""Side-by-side forward throughput: `webssl-dist bench` against PyTorch + transformers on the same
architecture (random weights), threads and batch. Runs are interleaved (webssl, torch, webssl,
torch, ...) so that load from other processes hits both alike; reports the best and median
images/s of each and their ratio.

usage: bench_vs_torch.py --bin PATH/webssl-dist [--arch webssl-dino300m-full2b-224] [--batch 8]
                         [--threads 2] [--dtype fp32|bf16] [--rounds 3] [--iters 2]
PyTorch: Dinov2Model (dino family, SwiGLU) or ViTModel (mae family), torch.no_grad(),
torch.set_num_threads(T); bf16 = torch.autocast("cpu", dtype=torch.bfloat16).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from transformers import Dinov2Config, Dinov2Model, ViTConfig, ViTModel

ARCH_FIELDS = {  # name -> (family, C, L, NH, patch, img); FFN hidden follows the family rule
    "webssl-dino300m-full2b-224": ("dino", 1024, 24, 16, 14, 224),
    "webssl-dino1b-full2b-224": ("dino", 1536, 40, 24, 14, 224),
    "webssl-mae300m-full2b-224": ("mae", 1024, 24, 16, 16, 224),
    "tiny-dino": ("dino", 48, 2, 3, 14, 56),
    "tiny-mae": ("mae", 48, 2, 3, 16, 224),
}


def torch_model(arch):
    fam, C, L, NH, P, img = ARCH_FIELDS[arch]
    if fam == "dino":
        cfg = Dinov2Config(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, mlp_ratio=4,
                           image_size=img, patch_size=P, layer_norm_eps=1e-6, use_swiglu_ffn=True)
        return Dinov2Model(cfg).eval(), img
    cfg = ViTConfig(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, intermediate_size=4 * C,
                    image_size=img, patch_size=P, layer_norm_eps=1e-6)
    return ViTModel(cfg, add_pooling_layer=False).eval(), img


def torch_run(model, x, iters, bf16):
    with torch.no_grad():
        t0 = time.perf_counter()
        for _ in range(iters):
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    model(pixel_values=x)
            else:
                model(pixel_values=x)
        return x.shape[0] * iters / (time.perf_counter() - t0)


def webssl_run(args, tmp):
    js = os.path.join(tmp, "bench.json")
    cmd = [args.bin, "bench", "--arch", args.arch, "--batch", str(args.batch), "--threads",
           str(args.threads), "--dtype", args.dtype, "--iters", str(args.iters), "--warmup", "1",
           "--json", js]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    with open(js) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--arch", default="webssl-dino300m-full2b-224", choices=sorted(ARCH_FIELDS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--torch-warmup", type=int, default=1, help="untimed PyTorch batches first")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, img = torch_model(args.arch)
    x = torch.randn(args.batch, 3, img, img)
    bf16 = args.dtype == "bf16"
    if args.torch_warmup:
        torch_run(model, x, args.torch_warmup, bf16)
    ours, theirs, peak = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            j = webssl_run(args, tmp)
            ours.append(j["images_per_second"])
            peak = max(peak, j["peak_rss_mb"])
            theirs.append(torch_run(model, x, args.iters, bf16))
            print(f"round {r}: webssl {ours[-1]:.3f} img/s   torch {theirs[-1]:.3f} img/s   "
                  f"ratio {ours[-1] / theirs[-1]:.2f}", flush=True)
    print(f"{args.arch} batch {args.batch} threads {args.threads} {args.dtype}: "
          f"webssl best {max(ours):.3f} median {statistics.median(ours):.3f} img/s, "
          f"torch {torch.__version__} best {max(theirs):.3f} median {statistics.median(theirs):.3f} img/s; "
          f"ratio best/best {max(ours) / max(theirs):.2f}, median/median "
          f"{statistics.median(ours) / statistics.median(theirs):.2f}; webssl peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
