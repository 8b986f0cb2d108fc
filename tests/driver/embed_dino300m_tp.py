"""Tensor parallelism at the webssl-dino300m shape (D 1024, 24 blocks, 16 heads, SwiGLU 2736):
a randomly initialised transformers Dinov2Model saved with save_pretrained, embedded with tp 1
and tp 2 on two images at batch 1; outputs agree (fp32, max abs error <= 1e-5 x max |output|)
and each rank's peak memory is reported (about weights / tp plus activations).
usage: embed_dino300m_tp.py WORKDIR"""
import os
import re
import sys

import torch
from transformers import Dinov2Config, Dinov2Model
from transformers.modeling_utils import no_init_weights

from embed_common import make_images, read_shards, run_embed
from webssl_test import compare, fresh_dir  # tests/python, put on sys.path by embed_common

work = fresh_dir(sys.argv[1])
imgs = os.path.join(work, "img")
make_images(imgs, 2)
model = os.path.join(work, "dino300m")
torch.manual_seed(0)
cfg = Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4, image_size=224,
                   patch_size=14, layer_norm_eps=1e-6, use_swiglu_ffn=True, layerscale_value=0.1, qkv_bias=True)
with no_init_weights():  # the default truncated-normal init takes a minute on 2 cores
    m = Dinov2Model(cfg).eval()
with torch.no_grad():
    for name, p in m.named_parameters():
        if "norm" in name and name.endswith("weight"):
            p.fill_(1.0)
        else:
            bound = 0.02 if p.ndim < 2 else 1.0 / p[0].numel() ** 0.5
            p.uniform_(-bound, bound)
m.save_pretrained(model)
del m
fails = 0
outs = {}
for tp in (1, 2):
    out = os.path.join(work, f"out-tp{tp}")
    p = run_embed(tp, ["--model", model, "--input", imgs, "--output", out, "--batch", "1", "--out-dtype", "f32",
                       "--threads", "1"], tp=tp)
    m = re.search(r"peak memory per rank ([\d.]+)-([\d.]+) MiB \(weights ([\d.]+) MiB per rank\)", p.stderr)
    print(f"tp {tp}: peak memory per rank {m.group(1)}-{m.group(2)} MiB, weights {m.group(3)} MiB per rank")
    outs[tp], _ = read_shards(out)
for ds in ("cls", "patch_mean"):
    fails += compare(f"dino300m tp2 vs tp1 {ds}", outs[2][ds], outs[1][ds], 1e-5)
print("embed dino300m tp:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
