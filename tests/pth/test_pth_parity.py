"""Parity of original .pth checkpoints with PyTorch: checkpoints written by torch.save in the
original layouts (DINOv2 blocks chunked, 5 chunks for 26-deep models, flat with a "module."
prefix; fp32 and bf16; an SSL teacher checkpoint with DINO and iBOT heads; a heads-only file; a
timm VisionTransformer for MAE) are run by pth_forward and compared with the reference modules
(dinov2_ref.py, timm), including the original position-embedding interpolation at non-native
resolutions. fp32: max abs err <= FP32_TOL * max|ref|; bf16: cosine >= BF16_MIN_COS per token
(the tolerances of parity_hf.py, below). Every file
must also pass `webssl-dist inspect`, and an unrelated model's .pth must be refused.

usage: test_pth_parity.py PTH_FORWARD WORKDIR   (WEBSSL_BIN names the program for inspect)"""
import os
import subprocess
import sys

import numpy as np
import timm
import torch

import dinov2_ref

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from webssl_test import BIN, max_errors, randomise_original, ssl_teacher_state, write_arch  # noqa: E402

# fp32: measured 1.1e-7 to 8.9e-7 of max |ref| (4 to 26 blocks, heads, timm MAE); 3e-6 as in
# parity_hf.py. A LayerNorm epsilon ten times too large moves every output checked here by 3.7e-6
# (timm MAE patch tokens) to 6.3e-4 (planted and checked). bf16 compute on bf16 weights against
# the fp32 reference: measured min cosine 0.999997.
FP32_TOL, BF16_MIN_COS = 3e-6, 0.9998

tool, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
failures = 0


def run_tool(ckpt, arch, B, R, dtype="fp32", head="-"):
    out = os.path.join(work, os.path.basename(ckpt) + f"_{R}_{dtype}_out")
    os.makedirs(out, exist_ok=True)
    pix = torch.randn(B, 3, R, R)
    pix.numpy().astype(np.float32).tofile(os.path.join(out, "pixels.f32"))
    p = subprocess.run([tool, ckpt, os.path.join(out, "pixels.f32"), str(B), str(R), out, arch, dtype, head],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stderr, out, pix


def load(out, name, shape, dtype=np.float32):
    return np.fromfile(os.path.join(out, name), dtype=dtype).reshape(shape)


def compare_abs(label, name, got, ref):
    global failures
    err, scale, rel = max_errors(got, ref)
    ok = err <= FP32_TOL * scale
    print(f"{label:26s} {name:11s} max abs err {err:.3e}  rel {rel:.3e}  (max|ref| {scale:.3g})  "
          f"{'ok' if ok else 'FAIL'}")
    failures += not ok


def compare_cos(label, name, got, ref):
    global failures
    ref = ref.detach().float().numpy().reshape(-1, got.shape[-1])
    got = got.reshape(-1, got.shape[-1])
    cos = np.sum(got * ref, 1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    err = float(np.max(np.abs(got - ref)))
    ok = float(cos.min()) >= BF16_MIN_COS
    print(f"{label:26s} {name:11s} min cosine {cos.min():.6f}  max abs err {err:.3e}  {'ok' if ok else 'FAIL'}")
    failures += not ok


def inspect(path):
    global failures
    p = subprocess.run([BIN, "inspect", path], capture_output=True, text=True, timeout=120)
    ok = p.returncode == 0
    print(f"inspect {os.path.basename(path):22s} exit {p.returncode} {'ok' if ok else 'FAIL: ' + p.stderr.strip()}")
    failures += not ok


def check_backbone(label, ckpt, arch, model, R, B=2, dtype="fp32", head="-", ref_weights=None):
    """Run the checkpoint and the reference; returns (outdir, reference CLS)."""
    global failures
    rc, err, out, pix = run_tool(ckpt, arch, B, R, dtype, head)
    if rc != 0:
        print(f"{label:26s} FAIL: pth_forward exited {rc}: {err.strip()}")
        failures += 1
        return None, None
    with torch.no_grad():
        if isinstance(model, dinov2_ref.DinoVisionTransformer):
            f = model.forward_features(pix)
            cls, patch = f["x_norm_clstoken"], f["x_norm_patchtokens"]
        else:
            x = model.forward_features(pix)
            cls, patch = x[:, 0], x[:, 1:]
    C, g = cls.shape[1], R // (14 if isinstance(model, dinov2_ref.DinoVisionTransformer) else 16)
    got = {"cls": load(out, "cls.f32", (B, C)), "patch": load(out, "patch.f32", (B, g * g, C)),
           "patch_mean": load(out, "patch_mean.f32", (B, C))}
    ref = {"cls": cls, "patch": patch, "patch_mean": patch.mean(1)}
    for k in ("cls", "patch_mean", "patch"):
        (compare_cos if dtype == "bf16" else compare_abs)(f"{label} R={R} {dtype}", k, got[k], ref[k])
    return out, cls


def check_head(label, out, head, cls, B=2):
    global failures
    with torch.no_grad():
        z = head.forward_bottleneck(cls)
        logits = head.last_layer(z)
    got_z = load(out, "head.f32", tuple(z.shape))
    compare_abs(label, "head", got_z, z)
    idx = load(out, "proto_index.i32", (B,), np.int32)
    score = load(out, "proto_score.f32", (B,))
    ref_idx = logits.argmax(1).numpy()
    ok = np.array_equal(idx, ref_idx)
    print(f"{label:26s} proto index {idx.tolist()} vs torch {ref_idx.tolist()}  {'ok' if ok else 'FAIL'}")
    failures += not ok
    compare_abs(label, "proto score", score, logits.max(1).values)


# Tiny Web-DINO shapes: C 48, 3 heads, SwiGLU hidden 128, patch 14, native 56 px (4 x 4 grid).
C, NH, H = 48, 3, 128

# 1. Chunked blocks (4 blocks in 2 chunks), fp32, native and two non-native resolutions.
m = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 4, NH, block_chunks=2))
ck = os.path.join(work, "dino_chunked.pth")
torch.save(m.state_dict(), ck)
arch4 = write_arch(os.path.join(work, "dino4.yaml"), "test-dino4", "dino", 14, 56, C, 4, NH, H)
for R in (56, 70, 98):
    check_backbone("chunked", ck, arch4, m, R)
inspect(ck)

# 2. 26 blocks with block_chunks=4: five chunks (chunk size 6), as the 3B models.
m26 = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 26, NH, block_chunks=4))
assert any(k.startswith("blocks.4.24.") for k in m26.state_dict())
ck26 = os.path.join(work, "dino_5chunks.pth")
torch.save(m26.state_dict(), ck26)
arch26 = write_arch(os.path.join(work, "dino26.yaml"), "test-dino26", "dino", 14, 56, C, 26, NH, H)
check_backbone("5 chunks", ck26, arch26, m26, 56)
inspect(ck26)

# 3. Flat blocks with the DDP "module." prefix, at a non-native resolution; architecture from
#    the built-in table (tiny-dino) by shape matching.
mf = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 2, NH, block_chunks=0))
ckf = os.path.join(work, "dino_flat_module.pth")
torch.save({"module." + k: v for k, v in mf.state_dict().items()}, ckf)
check_backbone("flat module.", ckf, "-", mf, 84)
inspect(ckf)

# 4. bf16 checkpoint: the reference runs the same bf16-rounded weights in fp32.
mb = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 4, NH, block_chunks=2))
with torch.no_grad():
    for p in mb.parameters():
        p.copy_(p.bfloat16().float())
ckb = os.path.join(work, "dino_bf16.pth")
torch.save({k: v.bfloat16() for k, v in mb.state_dict().items()}, ckb)
check_backbone("bf16 ckpt", ckb, arch4, mb, 56, dtype="fp32")
check_backbone("bf16 ckpt", ckb, arch4, mb, 70, dtype="bf16")
inspect(ckb)

# 5. SSL teacher checkpoint: backbone + DINO head (hidden 64, bottleneck 32, 100 prototypes) + iBOT.
mt = randomise_original(dinov2_ref.DinoVisionTransformer(56, 14, C, 4, NH, block_chunks=2))
dh = randomise_original(dinov2_ref.DINOHead(C, 100, nlayers=3, hidden_dim=64, bottleneck_dim=32))
ih = randomise_original(dinov2_ref.DINOHead(C, 120, nlayers=3, hidden_dim=64, bottleneck_dim=32))
teacher = ssl_teacher_state(mt, dh, ih)
ckt = os.path.join(work, "dino_ssl_teacher.pth")
torch.save({"teacher": teacher}, ckt)
out, cls = check_backbone("teacher", ckt, arch4, mt, 56, head="model")
if out:
    check_head("teacher head", out, dh, cls)
inspect(ckt)

# 6. Heads-only file next to a flat backbone (--head FILE).
ckh = os.path.join(work, "dino_ssl_heads.pth")
torch.save({"teacher": {k: v for k, v in teacher.items() if not k.startswith("backbone.")}}, ckh)
ckbb = os.path.join(work, "dino_backbone.pth")
torch.save(mt.state_dict(), ckbb)
out, cls = check_backbone("backbone + heads", ckbb, arch4, mt, 56, head=ckh)
if out:
    check_head("heads-only head", out, dh, cls)
inspect(ckh)

# 7. Web-MAE: timm VisionTransformer (patch 16, C 48, depth 2, 3 heads), timm's own key layout.
vit = randomise_original(timm.models.vision_transformer.VisionTransformer(
    img_size=224, patch_size=16, embed_dim=C, depth=2, num_heads=NH, mlp_ratio=4, qkv_bias=True,
    num_classes=0, global_pool="token"))
ckm = os.path.join(work, "mae_timm.pth")
torch.save({"model": vit.state_dict()}, ckm)
check_backbone("timm MAE", ckm, "-", vit, 224)
inspect(ckm)

# 8. An unrelated model's .pth is refused with a message naming the file.
conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Linear(8, 4))
cku = os.path.join(work, "unrelated.pth")
torch.save(conv.state_dict(), cku)
rc, err, _, _ = run_tool(cku, "-", 1, 56)
ok = rc == 1 and "unrelated.pth" in err
print(f"unrelated model            exit {rc}: {err.strip()[:200]}  {'ok' if ok else 'FAIL'}")
failures += not ok

print("FAILED" if failures else "all outputs within tolerance", f"({failures} failures)")
sys.exit(1 if failures else 0)
