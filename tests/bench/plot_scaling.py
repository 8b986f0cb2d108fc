#!/usr/bin/env python3
"""Plots of a scaling study (launch/scaling-study output) as PNG files:

  throughput_vs_batch.png   images/s against batch, one line per (tp, dtype), one panel per arch
  throughput_vs_tp.png      images/s per rank against tp at each arch's largest batch run at
                            several tp
  throughput_vs_dp.png      images/s of the whole run against dp (tp 1)
  time_breakdown.png        per run: shares of compute, all-reduce, input wait, scatter, write
  memory_model.png          peak resident memory per rank against the cost model's weights +
                            activations (the dotted line is equality)
  allreduce.png             MPI all-reduce bus bandwidth and time against message size
                            (when DIR/allreduce.csv exists)

  python3 tests/bench/plot_scaling.py STUDY/runs.csv [--allreduce STUDY/allreduce.csv] --out docs/img

Needs matplotlib (Debian python3-matplotlib). Plots only rows whose status is "ok".
"""
import argparse
import csv
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def num(row, key):
    v = row.get(key, "")
    try:
        return float(v)
    except ValueError:
        return None


def short(arch):
    return os.path.basename(arch).replace("webssl-", "").replace(".yaml", "")


def load(path):
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("status") == "ok"]


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot_scaling: {path}")


def panels(n):
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def plot_vs_batch(rows, out):
    bench = [r for r in rows if r["kind"] == "bench" and r["dp"] == "1"]
    archs = sorted({r["arch"] for r in bench}, key=lambda a: min(num(r, "flops_image") or 0 for r in bench if r["arch"] == a))
    if not archs:
        return
    fig, axes = panels(len(archs))
    for ax, arch in zip(axes, archs):
        lines = defaultdict(list)
        for r in bench:
            if r["arch"] == arch:
                lines[(int(r["tp"]), r["dtype"])].append((int(r["batch"]), num(r, "img_per_s")))
        for (tp, dtype), pts in sorted(lines.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"tp {tp} {dtype}")
        ax.set_xscale("log", base=2)
        ax.set_title(short(arch))
        ax.set_xlabel("batch (images)")
        ax.set_ylabel("images/s (whole run)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out, "throughput_vs_batch.png")


def plot_vs_tp(rows, out):
    bench = [r for r in rows if r["kind"] == "bench" and r["dp"] == "1"]
    archs = sorted({r["arch"] for r in bench})
    if not archs or len({r["tp"] for r in bench}) < 2:
        return
    fig, axes = panels(len(archs))
    for ax, arch in zip(axes, archs):
        sel = [r for r in bench if r["arch"] == arch]
        # the largest batch measured at several tp (else the largest batch)
        multi = [b for b in {int(r["batch"]) for r in sel} if len({r["tp"] for r in sel if int(r["batch"]) == b}) > 1]
        bmax = max(multi or [int(r["batch"]) for r in sel])
        for dtype in sorted({r["dtype"] for r in sel}):
            pts = sorted((int(r["tp"]), num(r, "img_per_s_per_rank"), num(r, "comm_share") or 0.0)
                         for r in sel if r["dtype"] == dtype and int(r["batch"]) == bmax)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{dtype}")
            for tp, y, share in pts:
                if tp > 1:
                    ax.annotate(f"comm {100 * share:.0f}%", (tp, y), fontsize=7, textcoords="offset points",
                                xytext=(4, 4))
        ax.set_xscale("log", base=2)
        ax.set_title(f"{short(arch)}, batch {bmax}")
        ax.set_xlabel("tp (ranks per model copy)")
        ax.set_ylabel("images/s per rank")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out, "throughput_vs_tp.png")


def plot_vs_dp(rows, out):
    sel = [r for r in rows if r["tp"] == "1"]
    groups = defaultdict(list)
    for r in sel:
        groups[(r["kind"], r["arch"], r["dtype"], int(r["batch"]))].append((int(r["dp"]), num(r, "img_per_s")))
    groups = {k: sorted(v) for k, v in groups.items() if len({p[0] for p in v}) > 1}
    if not groups:
        return
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for (kind, arch, dtype, batch), pts in sorted(groups.items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{kind} {short(arch)} {dtype} b{batch}")
        base = pts[0][1] / pts[0][0]
        ax.plot([p[0] for p in pts], [base * p[0] for p in pts], ls=":", color="grey")
    ax.set_xlabel("dp (model copies, tp 1)")
    ax.set_ylabel("images/s (whole run)")
    ax.set_title("data-parallel scaling (dotted: linear)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, out, "throughput_vs_dp.png")


def plot_breakdown(rows, out):
    """Share of each run's time per part (bars add to 100%), the run's seconds at the right.
    bench: compute (without its all-reduces) and all-reduce over the timed iterations; embed:
    the slowest rank's parts of the wall time, the rest (start-up, shard claims) as "other"."""
    parts = ["compute (no comm)", "all-reduce", "input wait", "scatter", "write", "other"]
    sel = [r for r in rows if num(r, "compute_s")]
    if not sel:
        return
    sel.sort(key=lambda r: (r["kind"], r["arch"], r["dtype"], int(r["tp"]), int(r["dp"]), int(r["batch"])))
    shares, totals = [], []
    for r in sel:
        comm = num(r, "comm_s") or 0.0
        v = [max(num(r, "compute_s") - comm, 0.0), comm] + [num(r, k) or 0.0 for k in
                                                            ("input_wait_s", "scatter_s", "write_s")]
        total = num(r, "wall_s") if r["kind"] == "embed" else sum(v)
        v.append(max(total - sum(v), 0.0))
        shares.append([100.0 * x / total if total > 0 else 0.0 for x in v])
        totals.append(total)
    labels = [f"{r['kind'][0]} {short(r['arch'])} {r['dtype']} tp{r['tp']} dp{r['dp']} b{r['batch']}" for r in sel]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(sel) + 1.5))
    left = [0.0] * len(sel)
    for i, name in enumerate(parts):
        vals = [sh[i] for sh in shares]
        if not any(vals):
            continue
        ax.barh(range(len(sel)), vals, left=left, label=name)
        left = [a + b for a, b in zip(left, vals)]
    for y, t in enumerate(totals):
        ax.text(101, y, f"{t:.3g} s", va="center", fontsize=7)
    ax.set_yticks(range(len(sel)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("share of the run's time (%)")
    ax.set_title("time breakdown per run (b = bench, e = embed)", pad=22)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=3)
    save(fig, out, "time_breakdown.png")


def plot_memory(rows, out):
    pts = [((num(r, "model_weight_mib_rank") or 0) + (num(r, "model_act_mib_rank") or 0),
            num(r, "peak_mem_mib_rank"), r) for r in rows]
    pts = [p for p in pts if p[0] and p[1]]
    if not pts:
        return
    fig, ax = plt.subplots(figsize=(5, 4.2))
    for arch in sorted({p[2]["arch"] for p in pts}):
        sel = [p for p in pts if p[2]["arch"] == arch]
        ax.scatter([p[0] for p in sel], [p[1] for p in sel], label=short(arch), s=18)
    lo = min(min(p[0], p[1]) for p in pts) * 0.8
    hi = max(max(p[0], p[1]) for p in pts) * 1.2
    ax.plot([lo, hi], [lo, hi], ls=":", color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cost model: weights + activations (MiB/rank)")
    ax.set_ylabel("measured peak RSS (MiB/rank)")
    ax.set_title("memory per rank: model vs measured")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, "memory_model.png")


def plot_allreduce(path, out):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ranks in sorted({r["ranks"] for r in rows}, key=int):
        sel = sorted((int(r["bytes"]), float(r["busbw_GBps"]), float(r["seconds"])) for r in rows if r["ranks"] == ranks)
        a1.plot([s[0] for s in sel], [s[1] for s in sel], marker="o", label=f"{ranks} ranks")
        a2.plot([s[0] for s in sel], [s[2] * 1e6 for s in sel], marker="o", label=f"{ranks} ranks")
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("message (bytes, f32)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    a2.set_yscale("log")
    a1.set_ylabel("bus bandwidth (GB/s)")
    a2.set_ylabel("time per all-reduce (us)")
    a1.set_title("MPI all-reduce bandwidth")
    a2.set_title("MPI all-reduce time")
    save(fig, out, "allreduce.png")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="runs.csv files of launch/scaling-study")
    p.add_argument("--allreduce", help="allreduce.csv (default: next to the first runs.csv)")
    p.add_argument("--out", required=True, help="directory for the PNG files")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = [r for path in a.runs for r in load(path)]
    if not rows:
        raise SystemExit("plot_scaling: no successful runs in " + ", ".join(a.runs))
    plot_vs_batch(rows, a.out)
    plot_vs_tp(rows, a.out)
    plot_vs_dp(rows, a.out)
    plot_breakdown(rows, a.out)
    plot_memory(rows, a.out)
    ar = a.allreduce or os.path.join(os.path.dirname(a.runs[0]), "allreduce.csv")
    if os.path.exists(ar):
        plot_allreduce(ar, a.out)


if __name__ == "__main__":
    main()
