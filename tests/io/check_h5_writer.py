"""Reads the files test_h5_writer wrote with h5py: dtypes (float16 for f16 files), values
against numpy computed independently, keys (escaped; unescaped back to bytes), the manifest,
status, attributes; prints max abs error."""
import re
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # a Python without the reference packages (a bare node): skip, never fail
    print(f"SKIP: {e.name} is not installed in {sys.executable}")
    sys.exit(77)

d = sys.argv[1]
N, D, P, K = 5, 6, 4, 3


def val(i, j):
    return np.sin(0.1 * (i[:, None] * 1000 + j[None, :])).astype(np.float32)


def unescape_key(k):
    """The original bytes of a key (docs/output.md): a doubled backslash is one backslash, a
    backslash, x and two hex digits one byte."""
    return re.sub(rb"\\(\\|x[0-9a-f]{2})", lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]),
                  k.encode())


rows = np.arange(N)
ref = {
    "cls": val(rows, np.arange(D)),
    "patch_mean": val(rows, 100 + np.arange(D)),
    "patch": val(rows, 200 + np.arange(P * D)).reshape(N, P, D),
    "head": val(rows, 500 + np.arange(K)),
}
fails = 0
for name, dt, tol in (("f16.h5", np.float16, 1e-3), ("f32.h5", np.float32, 0)):
    with h5py.File(f"{d}/{name}", "r") as f:
        keys = list(f["key"].asstr()[:])
        raw = [unescape_key(k) for k in keys]
        if keys != ["a/0", "a/1", "b/été", "c\\\\x", "d\\xff\\x0a"] or raw[3:] != [b"c\\x", b"d\xff\n"]:
            print(f"{name}: keys {keys} {raw}"); fails += 1
        if f.attrs["manifest"] != "webssl-dist manifest 1\nsource\tshard-000\n":
            print(f"{name}: manifest {f.attrs['manifest']!r}"); fails += 1
        if f["status"].dtype != np.int8 or list(f["status"][:]) != [0, 3, 0, 0, 0]:
            print(f"{name}: status {f['status'][:]}"); fails += 1
        for ds, r in ref.items():
            x = f[ds][:]
            err = float(np.abs(x.astype(np.float64) - r).max())
            print(f"{name} {ds:10s} dtype {x.dtype} shape {x.shape} max abs err {err:.3g} (tol {tol})")
            if x.dtype != dt or x.shape != r.shape or err > tol:
                fails += 1
        pi, ps = f["proto_index"][:], f["proto_score"][:]
        perr = float(np.abs(ps - val(rows, np.array([900]))[:, 0]).max())
        print(f"{name} proto_index {pi.dtype} {list(pi)}  proto_score {ps.dtype} max abs err {perr:.3g} (tol 0)")
        if pi.dtype != np.int32 or list(pi) != [7 * i - 1 for i in range(N)] or ps.dtype != np.float32 or perr > 0:
            fails += 1
        if f["patch"].chunks != (1, P, D):
            print(f"{name}: patch chunks {f['patch'].chunks}"); fails += 1
        a = f.attrs
        for k, v in (("image_count", 5), ("failure_count", 1), ("complete", 1), ("embed_dim", D),
                     ("resolution", 28), ("creation_time", 1234)):
            if a[k] != v:
                print(f"{name}: attr {k} = {a[k]} != {v}"); fails += 1
        for k, v in (("arch", "tiny-test"), ("source", "shard-000"), ("compute_dtype", "fp32"),
                     ("features", "cls,patch_mean,patch,head,proto"), ("model", "model-dir")):
            if a[k] != v:
                print(f"{name}: attr {k} = {a[k]!r} != {v!r}"); fails += 1
print("h5py readback:", "FAILED" if fails else "passed")
sys.exit(1 if fails else 0)
