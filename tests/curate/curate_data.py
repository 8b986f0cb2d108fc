"""Embedding shard files for the curation tests, written with h5py in the schema `embed` writes
(key strings, status int8, cls / patch_mean [N, D] f16 or f32, attributes complete and
image_count), and the runner of the program under mpirun. Imported by the curation test scripts."""
import os
import shutil
import subprocess

import h5py
import numpy as np

BIN = os.environ.get("WEBSSL_BIN")
MPIEXEC = os.environ.get("WEBSSL_MPIEXEC") or "mpirun"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write_shard(path, x, keys=None, status=None, feature="cls", dtype="f2", complete=1):
    """One embedding shard file with rows x [N, D]."""
    n = len(x)
    keys = keys if keys is not None else [f"{os.path.basename(path)[:-3]}/{i:06d}" for i in range(n)]
    status = status if status is not None else np.zeros(n, np.int8)
    with h5py.File(path, "w") as f:
        f.create_dataset("key", data=np.array(keys, dtype=object), dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("status", data=np.asarray(status, np.int8))
        f.create_dataset(feature, data=np.asarray(x).astype(dtype))
        f.attrs["image_count"] = np.int64(n)
        f.attrs["complete"] = np.int64(complete)


def write_set(directory, x, shards, dtype="f2", feature="cls"):
    """Rows x split over `shards` files shard-00000.h5...; returns the keys in row order."""
    fresh_dir(directory)
    bounds = np.linspace(0, len(x), shards + 1).astype(int)
    keys = []
    for s in range(shards):
        k = [f"s{s:05d}/{i:06d}" for i in range(bounds[s], bounds[s + 1])]
        write_shard(os.path.join(directory, f"shard-{s:05d}.h5"), x[bounds[s]:bounds[s + 1]], k, dtype=dtype,
                    feature=feature)
        keys += k
    return keys


def mixture(n, d, centers, seed, spread=0.25):
    """n rows around `centers` random unit directions (a mixture the k-means tests cluster)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, d))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    lab = rng.integers(0, centers, n)
    return (c[lab] + spread * rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)


def run(args, ranks=1, check=True, threads=1):
    """webssl-dist ARGS under mpirun with `ranks` ranks; returns the CompletedProcess."""
    cmd = [MPIEXEC, "--oversubscribe", "--allow-run-as-root", "-n", str(ranks), BIN] + args
    env = dict(ENV, OMP_NUM_THREADS=str(threads))
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(args)} (ranks {ranks}) exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def read_assign(directory):
    """Concatenated key, status, cluster, distance of CDIR/assign/*.h5 in shard order."""
    out = {"key": [], "status": [], "cluster": [], "distance": []}
    for name in sorted(os.listdir(os.path.join(directory, "assign"))):
        if name.startswith(".") or not name.endswith(".h5"):
            continue
        with h5py.File(os.path.join(directory, "assign", name)) as f:
            assert f.attrs["complete"] == 1, name
            for k in out:
                v = f[k][:]
                out[k].append(v.astype(str) if k == "key" else v)
    return {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()}


def centroids(directory, name="centroids.h5"):
    with h5py.File(os.path.join(directory, name)) as f:
        return f["centroids"][:]


def report(name, got, ref, tol):
    """Print max abs / rel error; fail past tol (abs)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    a = float(np.max(np.abs(got - ref))) if got.size else 0.0
    r = a / max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
    print(f"{name}: max abs {a:.3e}, rel {r:.3e} (tolerance {tol:g})")
    if not a <= tol:
        raise SystemExit(f"FAIL: {name} max abs {a:.3e} > {tol:g}")
