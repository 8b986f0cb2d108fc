"""Reader test: checkpoints written by torch.save (fp32/fp16/bf16 storages, shared storages, views
with offsets and non-contiguous strides, 0-d and empty tensors, nn.Parameter, a state_dict with
_metadata, a teacher checkpoint with non-tensor values) and a hand-written zip64 archive are read
by pth_dump; every tensor must equal torch's values bit for bit, and tensors sharing a storage
must point at the same bytes.

usage: test_pth_reader.py PTH_DUMP WORKDIR"""
import collections
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # a Python without the reference packages (a bare node): skip, never fail
    print(f"SKIP: {e.name} is not installed in {sys.executable}")
    sys.exit(77)

import pthgen

tool, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
failures = 0


def parse_manifest(text):
    out = {}
    for line in text.splitlines():
        name, dtype, shape, strides, offset = line.split(" ")
        dims = lambda s: tuple(int(x) for x in s.split("=")[1].split(",") if x)
        out[name] = (dtype, dims(shape), dims(strides), int(offset.split("=")[1]))
    return out


def check(label, path, expected, same_bytes=()):
    global failures
    outdir = os.path.join(work, label + "_out")
    os.makedirs(outdir, exist_ok=True)
    rc, out, err = pthgen.run_dump(tool, path, outdir)
    if rc != 0:
        print(f"FAIL {label}: pth_dump exited {rc}: {err.strip()}")
        failures += 1
        return
    got = parse_manifest(out)
    if set(got) != set(expected):
        print(f"FAIL {label}: tensor names {sorted(got)} != {sorted(expected)}")
        failures += 1
        return
    for name, t in expected.items():
        dtype, shape, strides, _ = got[name]
        want = t.detach().float().numpy().reshape(-1)
        have = np.fromfile(os.path.join(outdir, name + ".f32"), dtype=np.float32)
        err_abs = float(np.max(np.abs(have - want))) if want.size else 0.0
        ok = (shape == tuple(t.shape) and strides == tuple(t.stride()) and have.shape == want.shape
              and np.array_equal(have.view(np.uint32), want.view(np.uint32)))
        print(f"{label}: {name:24s} {dtype:4s} shape={shape} strides={strides} max abs err {err_abs:.3g} "
              f"{'ok' if ok else 'FAIL'}")
        failures += not ok
    for a, b in same_bytes:
        elsize = expected[a].element_size()
        da = got[a][3] - expected[a].storage_offset() * elsize
        db = got[b][3] - expected[b].storage_offset() * elsize
        ok = da == db
        print(f"{label}: {a} and {b} share storage bytes at {da}: {'ok' if ok else 'FAIL'}")
        failures += not ok


torch.manual_seed(0)
base = torch.randn(6, 8)
plain = collections.OrderedDict([
    ("w", base),
    ("w_t", base.t()),                       # same storage, transposed strides
    ("w_slice", base[2:5, 1:7]),             # same storage, offset and row stride 8
    ("w_step", base[:, ::3]),                # non-unit column stride
    ("half", torch.randn(3, 5).half()),
    ("bf16", torch.randn(4, 2, 3).bfloat16()),
    ("bf16_view", torch.randn(5, 4).bfloat16()[1:, 2:]),
    ("scalar", torch.tensor(2.5)),
    ("empty", torch.zeros(0, 4)),
    ("param", torch.nn.Parameter(torch.randn(7))),
])
torch.save(plain, os.path.join(work, "plain.pth"))
check("plain", os.path.join(work, "plain.pth"), plain,
      same_bytes=[("w", "w_t"), ("w", "w_slice"), ("w", "w_step")])

# A module's state_dict carries _metadata (pickled with BUILD) and nested names.
net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
sd = net.state_dict()
torch.save(sd, os.path.join(work, "module.pth"))
check("module", os.path.join(work, "module.pth"), sd)

# SSL teacher layout: {"teacher": {...}}, alongside non-tensor values that must be skipped.
teacher = collections.OrderedDict([("backbone.cls_token", torch.randn(1, 1, 8)),
                                   ("dino_head.last_layer.weight_g", torch.ones(5, 1))])
torch.save({"teacher": teacher, "iteration": 12500, "lr": 1e-4, "name": "vitl",
            "config": {"steps": [1, 2, (3, None, True)], "bytes": b"\x00\xff"}},
           os.path.join(work, "teacher.pth"))
check("teacher", os.path.join(work, "teacher.pth"), teacher)

# zip64 records (what torch writes past 4 GiB), rebuilt from the plain archive.
pthgen.write_zip64(os.path.join(work, "zip64.pth"), pthgen.read_zip_entries(os.path.join(work, "plain.pth")))
check("zip64", os.path.join(work, "zip64.pth"), plain)

print("FAILED" if failures else "all tensors equal", f"({failures} failures)")
sys.exit(1 if failures else 0)
