"""Helpers shared by the Python test scripts: the program and mpirun named by the test environment
(WEBSSL_BIN, WEBSSL_MPIEXEC) with an environment that lets Open MPI run as root and oversubscribe,
a fresh work directory, tiny models with random parameters (transformers models saved with
save_pretrained; the original modules of tests/pth/dinov2_ref.py and timm), architecture YAML
files, and the max abs / relative error of an output against its reference.

Scripts import it after adding this directory to sys.path, found from WEBSSL_SOURCE_DIR or from
the script's own location."""
import math
import os
import shutil

import numpy as np
import torch

BIN = os.environ.get("WEBSSL_BIN")
MPIEXEC = os.environ.get("WEBSSL_MPIEXEC") or "mpirun"
MPIRUN = [MPIEXEC, "--oversubscribe", "--allow-run-as-root"]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1", SOURCE_DATE_EPOCH="1700000000")


def fresh_dir(path):
    """Empty directory at `path` (removed first if it exists); returns path."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def randomise(model, seed):
    """Non-trivial random values for every parameter of a transformers model, so each one
    matters: LayerScale in [0.1, 1), norm weights near 1, matrices (the patch projection included)
    scaled by 1/sqrt(fan-in), biases small, and the CLS token, mask token and position embeddings
    at 0.5 scale, so that position-embedding interpolation changes the output visibly."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lambda1"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.9 + 0.1)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim >= 2 and "embeddings" not in name or "projection.weight" in name:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:  # cls token, position embeddings, mask token
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return model.eval()


def randomise_original(model):
    """Random parameters (global torch generator) for the original modules (dinov2_ref, timm):
    LayerScale gammas and norm weights near 1, weight-norm gains in [0.5, 1.5), the rest small."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or ("norm" in name and name.endswith("weight")):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "weight_g" in name:
                p.copy_(0.5 + torch.rand_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return model.eval()


def ssl_teacher_state(backbone, dino_head, ibot_head):
    """The "teacher" state dict of a DINOv2 SSL checkpoint: the backbone, DINO head and iBOT head
    parameters under their prefixes."""
    state = {"backbone." + k: v for k, v in backbone.state_dict().items()}
    state.update({"dino_head." + k: v for k, v in dino_head.state_dict().items()})
    state.update({"ibot_head." + k: v for k, v in ibot_head.state_dict().items()})
    return state


def tiny_model(family, path, C=64, L=2, NH=4, img=56, seed=0):
    """Save a tiny Dinov2 (SwiGLU, LayerScale) or ViT (MAE) model; returns the torch model."""
    from transformers import Dinov2Config, Dinov2Model, ViTConfig, ViTModel
    torch.manual_seed(seed)
    if family == "dino":
        cfg = Dinov2Config(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH, mlp_ratio=4,
                           image_size=img, patch_size=14, layer_norm_eps=1e-6, use_swiglu_ffn=True,
                           layerscale_value=1.0, qkv_bias=True)
        m = randomise(Dinov2Model(cfg), seed)
    else:
        cfg = ViTConfig(hidden_size=C, num_hidden_layers=L, num_attention_heads=NH,
                        intermediate_size=4 * C, image_size=img, patch_size=16, layer_norm_eps=1e-6,
                        qkv_bias=True, hidden_act="gelu")
        m = randomise(ViTModel(cfg, add_pooling_layer=False), seed)
    m.save_pretrained(path)
    return m


def write_arch(path, name, family, P, img, C, L, NH, H):
    """Architecture YAML (docs/formats.md) of a Web-DINO (SwiGLU, LayerScale) or Web-MAE (MLP)
    model, square preprocessing at img px with the ImageNet mean/std; returns path."""
    dino = family == "dino"
    with open(path, "w") as f:
        f.write(f"name: {name}\nfamily: {family}\npatch_size: {P}\nimg_size: {img}\nembed_dim: {C}\ndepth: {L}\n"
                f"num_heads: {NH}\nffn: {'swiglu' if dino else 'mlp'}\nffn_hidden: {H}\nmlp_ratio: 4\n"
                f"layerscale: {'true' if dino else 'false'}\nqkv_bias: true\nproj_bias: true\nffn_bias: true\n"
                f"norm_eps: 1.0e-06\nnum_register_tokens: 0\n"
                f"preprocess: {{mode: square, resize: {img}, crop: {img}, mean: [0.485, 0.456, 0.406], "
                f"std: [0.229, 0.224, 0.225]}}\n")
    return path


def max_errors(got, ref):
    """(max abs error, max |ref|, relative error = abs / max |ref|) of got against ref (numpy
    arrays or torch tensors), computed in float64; empty arrays give (0, 1, 0)."""
    if torch.is_tensor(got):
        got = got.detach().float().numpy()
    if torch.is_tensor(ref):
        ref = ref.detach().float().numpy()
    err = float(np.abs(np.asarray(got, np.float64) - ref).max()) if np.size(got) else 0.0
    scale = float(np.abs(ref).max()) if np.size(ref) else 1.0
    return err, scale, (err / scale if scale else err)


def compare(name, x, ref, rel_tol):
    """Print max abs and relative (to max |ref|) error; returns 1 on failure."""
    err, _, rel = max_errors(x, ref)
    ok = x.shape == ref.shape and rel <= rel_tol
    print(f"  {name:28s} shape {str(x.shape):16s} max abs err {err:.3g}  rel {rel:.3g}  (tol {rel_tol:g}) {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1
