"""`webssl-dist convert IN OUT`: original checkpoints (an SSL teacher .pth with chunked blocks and
heads, a bf16 flat state_dict with a "module." prefix, a timm MAE state_dict) become HuggingFace
directories that transformers' from_pretrained loads with no missing or unexpected weights and
that give the original reference's outputs (fp32: max abs err <= 1e-4 * max|ref|; bf16 weights:
compared in fp32 against the same rounded weights).

usage: test_pth_convert.py WORKDIR   (WEBSSL_BIN names the program)"""
import json
import os
import subprocess
import sys

import numpy as np
import timm
import torch
from transformers import Dinov2Model, ViTModel

import dinov2_ref

work = sys.argv[1]
binary = os.environ["WEBSSL_BIN"]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
failures = 0


def randomize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or ("norm" in name and name.endswith("weight")):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return model.eval()


def convert(src, dst, *extra):
    global failures
    p = subprocess.run([binary, "convert", src, dst, *extra], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        print(f"FAIL convert {os.path.basename(src)}: exit {p.returncode}: {p.stderr.strip()}")
        failures += 1
    return p.returncode == 0


def compare(label, name, got, ref):
    global failures
    got, ref = got.detach().float().numpy(), ref.detach().float().numpy()
    err, scale = float(np.max(np.abs(got - ref))), float(np.max(np.abs(ref)))
    ok = err <= 1e-4 * scale
    print(f"{label:22s} {name:6s} max abs err {err:.3e}  rel {err / scale:.3e}  {'ok' if ok else 'FAIL'}")
    failures += not ok


def check_loading(label, info):
    global failures
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    print(f"{label:22s} from_pretrained: {'no missing or unexpected weights' if not bad else bad}")
    failures += bool(bad)


C, NH = 48, 3
pix = torch.randn(2, 3, 56, 56)

# 1. SSL teacher, chunked blocks, heads included (left out of the HF backbone).
mt = randomize(dinov2_ref.DinoVisionTransformer(56, 14, C, 4, NH, block_chunks=2))
dh = randomize(dinov2_ref.DINOHead(C, 50, nlayers=3, hidden_dim=64, bottleneck_dim=32))
teacher = {"backbone." + k: v for k, v in mt.state_dict().items()}
teacher.update({"dino_head." + k: v for k, v in dh.state_dict().items()})
src = os.path.join(work, "teacher.pth")
torch.save({"teacher": teacher, "iteration": 7}, src)
arch = os.path.join(work, "dino4.yaml")
with open(arch, "w") as f:
    f.write("name: test-dino4\nfamily: dino\npatch_size: 14\nimg_size: 56\nembed_dim: 48\ndepth: 4\nnum_heads: 3\n"
            "ffn: swiglu\nffn_hidden: 128\nlayerscale: true\nqkv_bias: true\nproj_bias: true\nffn_bias: true\n"
            "norm_eps: 1.0e-06\nnum_register_tokens: 0\n")
out = os.path.join(work, "teacher_hf")
if convert(src, out, "--arch", arch):
    cfg = json.load(open(os.path.join(out, "config.json")))
    print(f"config: model_type {cfg['model_type']} use_swiglu_ffn {cfg['use_swiglu_ffn']} "
          f"layer_norm_eps {cfg['layer_norm_eps']}")
    hf, info = Dinov2Model.from_pretrained(out, output_loading_info=True)
    check_loading("teacher -> dinov2", info)
    with torch.no_grad():
        h = hf.eval()(pixel_values=pix).last_hidden_state
        r = mt.forward_features(pix)
    compare("teacher -> dinov2", "cls", h[:, 0], r["x_norm_clstoken"])
    compare("teacher -> dinov2", "patch", h[:, 1:], r["x_norm_patchtokens"])

# 2. bf16 flat state_dict with the DDP prefix; architecture matched from the built-in table.
mb = randomize(dinov2_ref.DinoVisionTransformer(56, 14, C, 2, NH, block_chunks=0))
with torch.no_grad():
    for p in mb.parameters():
        p.copy_(p.bfloat16().float())
src = os.path.join(work, "flat_bf16.pth")
torch.save({"module." + k: v.bfloat16() for k, v in mb.state_dict().items()}, src)
out = os.path.join(work, "flat_bf16_hf")
if convert(src, out):
    hf, info = Dinov2Model.from_pretrained(out, output_loading_info=True, torch_dtype=torch.float32)
    check_loading("bf16 flat -> dinov2", info)
    with torch.no_grad():
        h = hf.eval()(pixel_values=pix).last_hidden_state
        r = mb.forward_features(pix)
    compare("bf16 flat -> dinov2", "cls", h[:, 0], r["x_norm_clstoken"])
    compare("bf16 flat -> dinov2", "patch", h[:, 1:], r["x_norm_patchtokens"])

# 3. timm MAE encoder -> ViTModel.
vit = randomize(timm.models.vision_transformer.VisionTransformer(
    img_size=224, patch_size=16, embed_dim=C, depth=2, num_heads=NH, mlp_ratio=4, qkv_bias=True,
    num_classes=0, global_pool="token"))
src = os.path.join(work, "mae.pth")
torch.save(vit.state_dict(), src)
out = os.path.join(work, "mae_hf")
if convert(src, out):
    hf, info = ViTModel.from_pretrained(out, add_pooling_layer=False, output_loading_info=True)
    check_loading("timm MAE -> vit", info)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        h = hf.eval()(pixel_values=x).last_hidden_state
        r = vit.forward_features(x)
    compare("timm MAE -> vit", "tokens", h, r)

print("FAILED" if failures else "converted checkpoints match the originals", f"({failures} failures)")
sys.exit(1 if failures else 0)
