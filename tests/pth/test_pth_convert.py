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

import timm
import torch
from transformers import Dinov2Model, ViTModel

import dinov2_ref

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from webssl_test import BIN, max_errors, randomise_original, write_arch  # noqa: E402

work = sys.argv[1]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
failures = 0


def convert(src, dst, *extra):
    global failures
    p = subprocess.run([BIN, "convert", src, dst, *extra], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        print(f"FAIL convert {os.path.basename(src)}: exit {p.returncode}: {p.stderr.strip()}")
        failures += 1
    return p.returncode == 0


def compare(label, name, got, ref):
    global failures
    err, scale, rel = max_errors(got, ref)
    ok = err <= 1e-4 * scale
    print(f"{label:22s} {name:6s} max abs err {err:.3e}  rel {rel:.3e}  {'ok' if ok else 'FAIL'}")
    failures += not ok


def check_loading(label, info):
    global failures
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    print(f"{label:22s} from_pretrained: {'no missing or unexpected weights' if not bad else bad}")
    failures += bool(bad)


def check_dinov2(label, out, model):
    """Load the converted directory with transformers (in fp32) and compare with the original."""
    hf, info = Dinov2Model.from_pretrained(out, output_loading_info=True, torch_dtype=torch.float32)
    check_loading(label, info)
    with torch.no_grad():
        h = hf.eval()(pixel_values=pix).last_hidden_state
        r = model.forward_features(pix)
    compare(label, "cls", h[:, 0], r["x_norm_clstoken"])
    compare(label, "patch", h[:, 1:], r["x_norm_patchtokens"])


C, NH = 48, 3
pix = torch.randn(2, 3, 56, 56)

# 1. SSL teacher, chunked blocks, heads included (left out of the HF backbone).
mt = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 4, NH, block_chunks=2))
dh = randomise_original(dinov2_ref.DINOHead(C, 50, nlayers=3, hidden_dim=64, bottleneck_dim=32))
teacher = {"backbone." + k: v for k, v in mt.state_dict().items()}
teacher.update({"dino_head." + k: v for k, v in dh.state_dict().items()})
src = os.path.join(work, "teacher.pth")
torch.save({"teacher": teacher, "iteration": 7}, src)
arch = write_arch(os.path.join(work, "dino4.yaml"), "test-dino4", "dino", 14, 56, C, 4, NH, 128)
out = os.path.join(work, "teacher_hf")
if convert(src, out, "--arch", arch):
    cfg = json.load(open(os.path.join(out, "config.json")))
    print(f"config: model_type {cfg['model_type']} use_swiglu_ffn {cfg['use_swiglu_ffn']} "
          f"layer_norm_eps {cfg['layer_norm_eps']}")
    check_dinov2("teacher -> dinov2", out, mt)

# 2. bf16 flat state_dict with the DDP prefix; architecture matched from the built-in table.
mb = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 2, NH, block_chunks=0))
with torch.no_grad():
    for p in mb.parameters():
        p.copy_(p.bfloat16().float())
src = os.path.join(work, "flat_bf16.pth")
torch.save({"module." + k: v.bfloat16() for k, v in mb.state_dict().items()}, src)
out = os.path.join(work, "flat_bf16_hf")
if convert(src, out):
    check_dinov2("bf16 flat -> dinov2", out, mb)

# 3. timm MAE encoder -> ViTModel.
vit = randomise_original(timm.models.vision_transformer.VisionTransformer(
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
