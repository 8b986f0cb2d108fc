"""DINO head features in `webssl-dist embed`: an SSL teacher checkpoint written by torch.save from
the reference DINOv2 modules (tests/pth/dinov2_ref.py: backbone + DINO head + iBOT head) is run
with --features cls,head,proto at tp 1 and tp 2, and a flat backbone .pth with a heads-only file
(--head) at tp 2, at a non-native resolution so that the .pth default position-embedding rule
(the original code's) is exercised. Compared with PyTorch on the same Pillow-preprocessed images:
cls and head max abs error <= 3e-6 x max |ref| (fp32, TOL), proto_index equal to torch.argmax,
proto_score within the same tolerance. Also: --posembed hf changes the outputs, and
--features head on a checkpoint without a head fails before the output directory is created.
usage: embed_head.py WORKDIR"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pth"))
import dinov2_ref  # noqa: E402
from embed_common import MEAN, STD, make_images, read_shards, run_embed  # noqa: E402
from webssl_test import compare, fresh_dir, randomise_original, ssl_teacher_state, write_arch  # noqa: E402

# cls, head and proto_score against PyTorch, as max abs err / max |ref|. Measured (Intel Xeon with
# AVX-512; weight and image seeds 0 to 3, the three runs each): cls 2.7e-7 to 4.2e-7, head up to
# 2.8e-7, proto_score up to 3.3e-7; in the sanitizer build (LayerNorms summed one value at a time)
# up to 6.8e-7. 3e-6, the fp32 bound of tests/model/parity_hf.py, leaves about 4x; the former 1e-4
# was 150 times the worst.
TOL = 3e-6

work = fresh_dir(sys.argv[1])
torch.manual_seed(0)
C, NH, H, L, IMG, R = 48, 3, 128, 2, 56, 70

arch = write_arch(os.path.join(work, "arch.yaml"), "test-dino-head", "dino", 14, IMG, C, L, NH, H)
bb = randomise_original(dinov2_ref.DinoVisionTransformer(IMG, 14, C, L, NH, block_chunks=0))
dh = randomise_original(dinov2_ref.DINOHead(C, 100, nlayers=3, hidden_dim=64, bottleneck_dim=32))
ih = randomise_original(dinov2_ref.DINOHead(C, 120, nlayers=3, hidden_dim=64, bottleneck_dim=32))
teacher = ssl_teacher_state(bb, dh, ih)
ck_teacher = os.path.join(work, "teacher.pth")
torch.save({"teacher": teacher}, ck_teacher)
ck_heads = os.path.join(work, "heads.pth")
torch.save({"teacher": {k: v for k, v in teacher.items() if not k.startswith("backbone.")}}, ck_heads)
ck_bb = os.path.join(work, "backbone.pth")
torch.save(bb.state_dict(), ck_bb)

imgs = os.path.join(work, "img")
make_images(imgs, 6, bad=["zz_bad.jpg"])
common = ["--input", imgs, "--batch", "4", "--shard-size", "4", "--preprocess", "square", "--resolution", str(R),
          "--out-dtype", "f32", "--arch", arch]


def reference(keys):
    xs = []
    for k in keys:
        im = Image.open(os.path.join(imgs, k)).convert("RGB").resize((R, R), Image.BICUBIC)
        xs.append(((np.asarray(im, np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1))
    with torch.no_grad():
        cls = bb.forward_features(torch.from_numpy(np.stack(xs)))["x_norm_clstoken"]
        z = dh.forward_bottleneck(cls)
        logits = dh.last_layer(z)
    return cls.numpy(), z.numpy(), logits.argmax(1).numpy(), logits.max(1).values.numpy()


fails = 0
ref = None
runs = (("teacher tp1", ck_teacher, [], 1), ("teacher tp2", ck_teacher, [], 2),
        ("backbone + --head tp2", ck_bb, ["--head", ck_heads], 2))
for label, model, extra, tp in runs:
    out = os.path.join(work, "out-" + label.replace(" ", "_").replace("+", "").replace("-", ""))
    run_embed(tp, ["--model", model, "--output", out, "--features", "cls,head,proto"] + common + extra, tp=tp)
    got, _ = read_shards(out)
    keys = [k.decode() for k in got["key"]]
    good = [i for i, k in enumerate(keys) if k != "zz_bad.jpg"]
    bad = keys.index("zz_bad.jpg")
    if ref is None:
        ref = reference([keys[i] for i in good])
    print(f"{label}: {len(keys)} rows; head {got['head'].shape} {got['head'].dtype}, "
          f"proto_index {got['proto_index'].dtype}, proto_score {got['proto_score'].dtype}")
    fails += compare(f"{label} cls", got["cls"][good], ref[0], TOL)
    fails += compare(f"{label} head", got["head"][good], ref[1], TOL)
    fails += compare(f"{label} proto_score", got["proto_score"][good], ref[3], TOL)
    idx = got["proto_index"][good]
    ok = np.array_equal(idx, ref[2]) and got["proto_index"].dtype == np.int32
    print(f"  proto_index {idx.tolist()} vs torch {ref[2].tolist()} {'ok' if ok else 'FAIL'}")
    fails += not ok
    if got["proto_index"][bad] != -1 or np.abs(got["head"][bad]).max() != 0:
        print("  FAIL: the failed image's row is not -1 / zeros"); fails += 1
    if extra:   # a separate --head file: its fingerprint is in run.json too, so a resume refuses another one
        with open(os.path.join(out, "run.json")) as f:
            hw = json.load(f).get("head_weights", {})
        ok = list(hw) == [os.path.basename(ck_heads)] and "sha256" in hw[os.path.basename(ck_heads)]
        print(f"  run.json head_weights {hw} {'ok' if ok else 'FAIL'}")
        fails += not ok

# --posembed hf overrides the .pth default: the CLS must move away from the original-rule reference.
out = os.path.join(work, "out-hf")
run_embed(1, ["--model", ck_teacher, "--output", out, "--features", "cls", "--posembed", "hf"] + common)
got, _ = read_shards(out)
good = [i for i, k in enumerate(got["key"]) if k.decode() != "zz_bad.jpg"]
diff = float(np.abs(got["cls"][good] - ref[0]).max()) / float(np.abs(ref[0]).max())
print(f"--posembed hf vs original-rule reference: rel diff {diff:.3g} (must exceed 1e-3) {'ok' if diff > 1e-3 else 'FAIL'}")
fails += diff <= 1e-3

# No head anywhere: a clear error before any work.
out = os.path.join(work, "out-nohead")
p = run_embed(2, ["--model", ck_bb, "--output", out, "--features", "cls,head"] + common, tp=2, expect=1)
msg = p.stdout + p.stderr
ok = "DINO head" in msg and not os.path.exists(out)
print(f"--features head without a head: exit 1, {'ok' if ok else 'FAIL'}: "
      f"{[ln for ln in msg.splitlines() if 'DINO head' in ln][:1]}")
fails += not ok
print("embed head:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
