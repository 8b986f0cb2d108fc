"""Parity of the webssl forward pass with transformers for the checkpoint layouts users download
besides model.safetensors (helpers shared with parity_hf.py; same tolerance: fp32 max abs err <=
parity_hf.FP32_TOL * max |ref|, printed per tensor):
  bin_zip        pytorch_model.bin from save_pretrained(safe_serialization=False) (zip layout)
  bin_legacy     pytorch_model.bin written by torch.save(_use_new_zipfile_serialization=False)
  bin_sharded    pytorch_model-0000N-of-0000M.bin + pytorch_model.bin.index.json
  hub_cache      a hub cache folder models--org--name/{refs/main, snapshots/REV/*, blobs/*}, the
                 snapshot's files symlinks into blobs/, passed as the folder and as the snapshot;
                 then without refs/main: an error that says so
  registers      Dinov2WithRegistersModel (config dinov2_with_registers, 4 register tokens) at
                 tp 1 and tp 2; patch tokens and patch_mean exclude the registers
  registers_res  the same at resolutions other than the native one (up 42 -> 56, down 98 -> 56),
                 with --posembed hf-antialias (the class interpolates with antialias=True)
The registers cases need transformers >= 4.48 (the first release with the class; the
.venv-registers environment made by launch/install-deps): without it they skip (exit 77).

usage: parity_layouts.py --tool PATH/model_forward --case NAME"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_hf import compare, dinov2, randomise, reference, run_tool  # noqa: E402

SKIP = 77


def registers_model(C=48, L=2, NH=3, img=56, NR=4, seed=20):
    try:
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
    except ImportError:
        import transformers
        print(f"SKIP: transformers {transformers.__version__} has no Dinov2WithRegistersModel (>= 4.48 has; "
              "launch/install-deps makes .venv-registers with it)")
        sys.exit(SKIP)
    cfg = Dinov2WithRegistersConfig(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, mlp_ratio=4,
                                    image_size=img, patch_size=14, layer_norm_eps=1e-6, use_swiglu_ffn=True,
                                    layerscale_value=1.0, qkv_bias=True, num_register_tokens=NR)
    torch.manual_seed(seed)
    return randomise(Dinov2WithRegistersModel(cfg), seed)


def hub_cache(src, root, org="facebook", name="webssl-test-tiny", rev="0123456789abcdef"):
    """Move the files of the saved model `src` into a hub cache layout under root; returns the
    models--org--name folder and its snapshot directory."""
    repo = os.path.join(root, f"models--{org}--{name}")
    snap = os.path.join(repo, "snapshots", rev)
    os.makedirs(os.path.join(repo, "blobs"))
    os.makedirs(os.path.join(repo, "refs"))
    os.makedirs(snap)
    for i, f in enumerate(sorted(os.listdir(src))):
        blob = f"{i:040x}"
        shutil.move(os.path.join(src, f), os.path.join(repo, "blobs", blob))
        os.symlink(os.path.join("..", "..", "blobs", blob), os.path.join(snap, f))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(rev)
    return repo, snap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--case", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(3)
    c, ok = a.case, True
    for img in ((56,) if c == "registers" else (42, 98) if c == "registers_res" else (56,)):
        ok &= run_case(a.tool, c, img, rng)
    sys.exit(0 if ok else 1)


def run_case(tool, c, img, rng):
    ok = True
    model = registers_model(img=img) if c.startswith("registers") else dinov2(seed=21)
    posembed = "hf-antialias" if c == "registers_res" else "hf"
    B, R = 2, 56
    NR = getattr(model.config, "num_register_tokens", 0)
    pixels = rng.standard_normal((B, 3, R, R)).astype(np.float32)
    ref = reference(model, pixels)
    if NR:   # reference() takes every token after CLS as a patch token
        h = np.concatenate([ref["cls"][:, None], ref["patch"]], 1)
        ref = {"cls": h[:, 0], "patch": h[:, 1 + NR:], "patch_mean": h[:, 1 + NR:].mean(1)}
    with tempfile.TemporaryDirectory() as tmp:
        mdir = os.path.join(tmp, "model")
        dirs = [mdir]
        if c == "bin_zip":
            model.save_pretrained(mdir, safe_serialization=False)
        elif c == "bin_sharded":
            model.save_pretrained(mdir, safe_serialization=False, max_shard_size="100KB")
            assert os.path.exists(os.path.join(mdir, "pytorch_model.bin.index.json"))
        elif c == "bin_legacy":
            model.save_pretrained(mdir)
            os.remove(os.path.join(mdir, "model.safetensors"))
            torch.save(model.state_dict(), os.path.join(mdir, "pytorch_model.bin"), _use_new_zipfile_serialization=False)
            with open(os.path.join(mdir, "pytorch_model.bin"), "rb") as f:
                assert f.read(2) == b"\x80\x02", "not the legacy layout"
        elif c == "hub_cache":
            model.save_pretrained(mdir)
            dirs = list(hub_cache(mdir, os.path.join(tmp, "hub")))
        else:
            model.save_pretrained(mdir)
            with open(os.path.join(mdir, "config.json")) as f:
                assert json.load(f)["model_type"] == "dinov2_with_registers"
        files = sorted(os.listdir(dirs[-1]))
        for d in dirs:
            for tp in ((1, 2) if c == "registers" else (1,)):
                got = run_tool(tool, d, pixels, tmp, tp=tp, posembed=posembed)
                print(f"case {c}: {type(model).__name__} ({', '.join(files)}) from {os.path.relpath(d, tmp)} "
                      f"B={B} R={R} native {img} registers={NR} tp={tp} posembed={posembed}")
                ok &= compare(ref, got)
        if c == "hub_cache":   # a cache folder whose refs/main is gone: an error naming it
            os.remove(os.path.join(dirs[0], "refs", "main"))
            pix = os.path.join(tmp, "pixels.f32")
            r = subprocess.run([tool, "--model", dirs[0], "--pixels", pix, "--batch", str(B), "--resolution", str(R),
                                "--out", os.path.join(tmp, "out")], capture_output=True, text=True)
            good = r.returncode != 0 and "without refs/main" in r.stderr
            print(f"hub cache folder without refs/main: exit {r.returncode}, {r.stderr.strip()[:160]}"
                  + ("" if good else "   <-- FAIL"))
            ok &= good
    return ok


if __name__ == "__main__":
    main()
