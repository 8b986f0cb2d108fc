"""Checkpoints written by the real libraries: safetensors files (f32/f16/bf16) from
safetensors.torch.save_file, and sharded HF directories from transformers save_pretrained
(Dinov2Model with SwiGLU, ViTModel), read back tensor by tensor (ckpt_compare prints max abs/rel
error; the f32 conversion must be exact) and through `webssl-dist inspect`. Then real files broken
on purpose: each must fail with a message naming the file and the tensor or field.

usage: test_hf_python.py CKPT_COMPARE WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

try:
    import torch
    from safetensors.torch import save_file
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model, ViTConfig, ViTImageProcessor, ViTModel
    from transformers.utils import logging as hf_logging
except ImportError as e:  # a Python without the reference packages (a bare node): skip, never fail
    print(f"SKIP: {e.name} is not installed in {sys.executable}")
    sys.exit(77)

hf_logging.set_verbosity_error()
COMPARE, WORK = sys.argv[1], sys.argv[2]
BIN = os.environ["WEBSSL_BIN"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def compare(ckpt, ref):
    rc, out, err = run(COMPARE, ckpt, ref)
    print(out[-3000:] + err)
    check(rc == 0, f"{ckpt}: every tensor equals the reference")


def inspect(path, *extra):
    return run(BIN, "inspect", path, *extra)


if os.path.isdir(WORK):
    shutil.rmtree(WORK)
os.makedirs(WORK)
torch.manual_seed(0)

# --- safetensors files of each dtype -------------------------------------------------------------
tensors = {
    "vec": torch.randn(7),
    "mat": torch.randn(5, 9),
    "conv": torch.randn(4, 3, 2, 2),
    "cube": torch.randn(3, 4, 5),
    "empty": torch.zeros(0, 4),
    "big": torch.randn(300, 70) * 1e4,
}
ref = os.path.join(WORK, "ref_f32.safetensors")
for dtype, name in [(torch.float32, "f32"), (torch.float16, "f16"), (torch.bfloat16, "bf16")]:
    conv = {k: v.to(dtype).contiguous() for k, v in tensors.items()}
    path = os.path.join(WORK, f"plain_{name}.safetensors")
    save_file(conv, path, metadata={"format": "pt"})
    ref = os.path.join(WORK, f"ref_{name}.safetensors")
    save_file({k: v.float().contiguous() for k, v in conv.items()}, ref)
    compare(path, ref)
    rc, out, err = inspect(path)
    shown = {"f32": "fp32", "f16": "fp16"}.get(name, name)   # the program's one spelling of a dtype
    check(rc == 0 and f"mat {shown}" in " ".join(out.split()) and "tensors: 6" in out, f"inspect {path} lists {shown} tensors")
    check("architecture: none:" in out and "cls_token" in out, f"inspect {path}: no architecture, says why")

# --- sharded HF directories ------------------------------------------------------------------------
dino_cfg = Dinov2Config(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, use_swiglu_ffn=True,
                        patch_size=14, image_size=56, layerscale_value=1e-5, layer_norm_eps=1e-6)
vit_cfg = ViTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, intermediate_size=192,
                    patch_size=16, image_size=224, layer_norm_eps=1e-6)
# Web-DINO's processor: shorter side 256 + center crop 224; MAE's: square 224 (HF ViT defaults).
processor = {"dino": BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                       image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]),
             "vit": ViTImageProcessor(resample=3)}
preprocess_line = {"dino": "preprocess: crop, resize 256, crop 224, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]",
                   "vit": "preprocess: square, resize 224, crop 224, mean [0.5, 0.5, 0.5], std [0.5, 0.5, 0.5]"}
models = [("dino", Dinov2Model(dino_cfg), "tiny-dino"), ("vit", ViTModel(vit_cfg), "tiny-mae")]
for kind, model, arch in models:
    for dtype, dname in [(torch.float32, "f32"), (torch.bfloat16, "bf16")]:
        m = model.to(dtype)
        d = os.path.join(WORK, f"{kind}_{dname}_sharded")
        m.save_pretrained(d, max_shard_size="40KB", safe_serialization=True)
        processor[kind].save_pretrained(d)
        shards = [f for f in os.listdir(d) if f.endswith(".safetensors")]
        check(len(shards) > 2 and os.path.exists(os.path.join(d, "model.safetensors.index.json")),
              f"{d}: saved as {len(shards)} shards")
        ref = os.path.join(WORK, f"{kind}_{dname}_ref.safetensors")
        save_file({k: v.float().contiguous() for k, v in m.state_dict().items()}, ref)
        compare(d, ref)
        rc, out, err = inspect(d)
        numel = sum(v.numel() for v in m.state_dict().values())
        check(rc == 0 and f"architecture: {arch} (config.json)" in out, f"inspect {d}: architecture {arch} from config.json")
        check(f"total:   {numel} parameters" in out, f"inspect {d}: {numel} parameters")
        check(f"files:   {len(shards)}" in out, f"inspect {d}: {len(shards)} files")
        check(preprocess_line[kind] in out, f"inspect {d}: {preprocess_line[kind]}")

# --- real files broken on purpose --------------------------------------------------------------------
good = os.path.join(WORK, "plain_f32.safetensors")
cut = os.path.join(WORK, "truncated.safetensors")
with open(good, "rb") as f:
    data = f.read()
with open(cut, "wb") as f:
    f.write(data[:-100])
rc, out, err = inspect(cut)
check(rc == 1 and cut in err and "tensor '" in err and "truncated" in err, f"truncated file: {err.strip()}")

d = os.path.join(WORK, "dino_f32_sharded")
bad = os.path.join(WORK, "missing_shard")
shutil.copytree(d, bad)
victim = sorted(f for f in os.listdir(bad) if f.endswith(".safetensors"))[1]
os.remove(os.path.join(bad, victim))
rc, out, err = inspect(bad)
check(rc == 1 and victim in err and "missing" in err, f"missing shard: {err.strip()}")

bad = os.path.join(WORK, "unknown_type")
shutil.copytree(d, bad)
cfg = json.load(open(os.path.join(bad, "config.json")))
cfg["model_type"] = "swin"
json.dump(cfg, open(os.path.join(bad, "config.json"), "w"))
rc, out, err = inspect(bad)
check(rc == 1 and "config.json" in err and "model_type 'swin'" in err, f"unknown model_type: {err.strip()}")

bad = os.path.join(WORK, "wrong_config")
shutil.copytree(d, bad)
cfg["model_type"] = "dinov2"
cfg["mlp_ratio"] = 2
json.dump(cfg, open(os.path.join(bad, "config.json"), "w"))
rc, out, err = inspect(bad)
check(rc == 0 and "architecture: none:" in out and "mlp.weights_in.weight' has shape [256, 48]" in out,
      f"config.json disagreeing with the tensors: {out.splitlines()[-1]}")

rc, out, err = inspect(good.replace("plain_f32", "dino_f32_ref"), "--arch", "tiny-mae")
check("architecture: none:" in out and "'embeddings.patch_embeddings.projection.weight' has shape [48, 3, 14, 14]"
      in out and "tiny-mae expects [48, 3, 16, 16]" in out,
      f"--arch disagreeing with the tensors: {out.splitlines()[-1]}")
rc, out, err = inspect(good.replace("plain_f32", "dino_f32_ref"))
check("architecture: tiny-dino (matched built-in)" in out, "bare safetensors of tiny-dino matches the built-in")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
