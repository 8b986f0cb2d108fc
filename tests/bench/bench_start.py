"""File-system cost of starting `webssl-dist embed` against the rank count: S tar shards (empty
files: only their names and metadata are looked up at the start) given as a brace range and as
a glob, a tiny model, and a run stopped right after the start (its --stats file cannot be
created). Each rank runs under strace, which logs every path-based call (stat family, open,
access, readlink: strace's %file class) and directory read as it happens, so a rank that mpirun
kills when another has stopped still counts; printed per rank count, in interleaved rounds:
those calls summed over the ranks, less those of the same start over one shard (loading
libraries and the model), and the start's wall time.
usage: bench_start.py [--bin webssl-dist] [--shards 100000] [--ranks 1,2,4] [--rounds 2] [--work DIR]"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from webssl_test import ENV, MPIRUN, tiny_model  # noqa: E402

def count_calls(files):
    """System calls logged in the strace files (one line each; signal lines skipped)."""
    return sum(1 for f in files for line in open(f, errors="replace") if "(" in line and not line.startswith("---"))


def start(binary, model, spec, out, ranks, work):
    for f in glob.glob(os.path.join(work, "strace.*")):
        os.unlink(f)
    trace = os.path.join(work, "strace.$OMPI_COMM_WORLD_RANK")
    cmd = MPIRUN + ["-np", str(ranks), "sh", "-c",
                    f"exec strace -f -qq -e trace=%file,getdents64 -o {trace} {binary} embed --model {model} --input '{spec}' "
                    f"--output {out} --stats {work}/no/such/dir/stats.jsonl"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if "stats" not in p.stderr:
        sys.exit(f"the start did not stop at --stats: {p.stderr[-2000:]}")
    return count_calls(glob.glob(os.path.join(work, "strace.*"))), wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("WEBSSL_BIN", "webssl-dist"))
    ap.add_argument("--shards", type=int, default=100000)
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="bench_start_")
    tars = os.path.join(work, "tars")
    os.makedirs(tars, exist_ok=True)
    for i in range(a.shards):
        p = os.path.join(tars, f"{i:07d}.tar")
        if not os.path.exists(p):
            open(p, "w").close()
    model = os.path.join(work, "dino")
    if not os.path.isdir(model):
        tiny_model("dino", model, C=48, NH=3)
    specs = {"one": os.path.join(tars, "0000000.tar"),
             "brace": os.path.join(tars, "{%07d..%07d}.tar" % (0, a.shards - 1)),
             "glob": os.path.join(tars, "*.tar")}
    ranks = [int(x) for x in a.ranks.split(",")]
    res = {(k, n): [] for k in specs for n in ranks}
    for r in range(a.rounds):
        for n in ranks:
            for k, spec in specs.items():
                res[k, n].append(start(a.bin, model, spec, os.path.join(work, "out"), n, work))
                print(f"round {r} ranks {n} {k}: {res[k, n][-1][0]} look-ups, {res[k, n][-1][1]:.1f} s", flush=True)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    print(f"load average {os.getloadavg()[0]:.1f}, {a.shards} shards")
    print("| ranks | spec | look-ups beyond a one-shard start, all ranks | per shard | start wall s (median) |")
    print("|---|---|---|---|---|")
    for n in ranks:
        base = med([c for c, _ in res["one", n]])
        for k in ("brace", "glob"):
            calls = med([c for c, _ in res[k, n]]) - base
            print(f"| {n} | {k} | {calls} | {calls / a.shards:.2f} | {med([w for _, w in res[k, n]]):.1f} |")


if __name__ == "__main__":
    main()
