"""Compares two embed output directories with h5py: the same shard files, and in each file the
same datasets and root attributes. Prints the max absolute and relative difference of every
dataset and whether the files are byte-identical.

    python compare_outputs.py REF_DIR OTHER_DIR [--bytes]

Exit status 1 when a file, dataset or attribute differs (any numeric difference counts: both
runs do the same arithmetic in the same order), or, with --bytes, when two files differ in any
byte.
"""
import filecmp
import os
import sys

import h5py
import numpy as np


def shard_files(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".h5") and not f.startswith("."))


def compare_file(a, b):
    ok = True
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        if sorted(fa.keys()) != sorted(fb.keys()):
            print(f"  datasets differ: {sorted(fa.keys())} vs {sorted(fb.keys())}")
            return False
        for k in sorted(fa.keys()):
            x, y = fa[k][()], fb[k][()]
            if x.shape != y.shape or x.dtype != y.dtype:
                print(f"  {k}: shape/dtype {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
                ok = False
                continue
            if x.dtype.kind in "fiu":
                xf, yf = x.astype(np.float64), y.astype(np.float64)
                diff = np.abs(xf - yf)
                mabs = float(diff.max()) if diff.size else 0.0
                mrel = float((diff / np.maximum(np.abs(xf), 1e-12)).max()) if diff.size else 0.0
                print(f"  {k:12s} {str(x.shape):16s} max abs {mabs:.3e} max rel {mrel:.3e}")
                ok = ok and mabs == 0.0
            else:
                same = bool(np.array_equal(x, y))
                print(f"  {k:12s} {str(x.shape):16s} {'equal' if same else 'DIFFERENT'}")
                ok = ok and same
        for k in sorted(set(fa.attrs) | set(fb.attrs)):
            va, vb = fa.attrs.get(k), fb.attrs.get(k)
            if not np.array_equal(np.asarray(va), np.asarray(vb)):
                print(f"  attribute {k}: {va!r} vs {vb!r}")
                ok = False
    return ok


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    need_bytes = "--bytes" in sys.argv
    ref, other = args
    fa, fb = shard_files(ref), shard_files(other)
    if not fa:
        print(f"no shard files in {ref}")
        return 1
    if fa != fb:
        print(f"shard files differ:\n  {ref}: {fa}\n  {other}: {fb}")
        return 1
    ok = True
    for f in fa:
        a, b = os.path.join(ref, f), os.path.join(other, f)
        identical = filecmp.cmp(a, b, shallow=False)
        print(f"{f}: {'byte-identical' if identical else 'bytes differ'}")
        ok = compare_file(a, b) and ok
        if need_bytes and not identical:
            ok = False
    print(f"{len(fa)} shard files compared: {'same' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
