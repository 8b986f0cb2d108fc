"""Checks a short launch/scaling-study run (tests/scaling/CMakeLists.txt): every row ok, every
parameter recorded, GFLOP/s equal to images/s times the FLOPs per image that bench and the cost
model report independently (common/arch.c vs model/cost_model.c through `webssl-dist cost`),
all-reduce time exactly in the tp > 1 runs, measured peak memory below the cost model's need
(weights + activations + reserve), and the plots written."""
import csv
import os
import sys

study, img = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(os.path.join(study, "runs.csv"))))
assert len(rows) == int(sys.argv[3]), f"expected {sys.argv[3]} rows, got {len(rows)}"
worst = 0.0
for r in rows:
    assert r["status"] == "ok", f"run failed: {r}"
    for col in ("arch", "tp", "dp", "batch", "dtype", "img_per_s", "gflop_per_s", "peak_mem_mib_rank",
                "model_mem_mib_rank", "flops_image"):
        assert r[col] != "", f"column {col} empty in {r}"
    img_s, gflops, flops = float(r["img_per_s"]), float(r["gflop_per_s"]), float(r["flops_image"])
    assert img_s > 0
    comm = float(r["comm_s"] or 0)
    assert (comm > 0) == (r["tp"] != "1"), f"all-reduce time {comm} s at tp {r['tp']}"
    rel = abs(gflops - img_s * flops / 1e9) / gflops
    worst = max(worst, rel)
    peak, model = float(r["peak_mem_mib_rank"]), float(r["model_mem_mib_rank"])
    print(f"{r['arch']} tp {r['tp']} batch {r['batch']}: {img_s:.1f} img/s, {gflops:.2f} GFLOP/s, "
          f"peak {peak:.0f} MiB vs model {model:.0f} MiB")
    # The model adds a fixed 512 MiB reserve; a tiny run's RSS is the program and libraries.
    assert peak < model, f"measured peak {peak} MiB exceeds the model's {model} MiB"
print(f"GFLOP/s vs img/s x FLOPs/image: max rel err {worst:.2e} (tolerance 1e-3)")
assert worst < 1e-3
for name in ("throughput_vs_batch.png", "throughput_vs_tp.png", "time_breakdown.png", "memory_model.png"):
    path = os.path.join(img, name)
    assert os.path.getsize(path) > 1000, f"{path} missing or empty"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
print("scaling study smoke test: ok")
