"""Side by side on one CPU: `webssl-dist bench` against what users run instead, on the same
architecture (random weights), batch and threads, interleaved round by round so that load from
other processes hits every system alike. Prints img/s per round and system, the median, and each
median's ratio to webssl fp32.

Systems (each run in its own process, one after the other, with a time limit; a system that
runs past the limit is reported as such and not tried in later rounds):
  webssl fp32 / bf16       webssl-dist bench (GEMM path and CPU features as it reports them)
  torch fp32 / bf16        PyTorch 2.x + transformers 5.x, SDPA attention, torch.no_grad();
                           bf16 = torch.autocast("cpu", dtype=torch.bfloat16)
  onnxruntime fp32         the transformers model exported to ONNX, CPUExecutionProvider
  openvino fp32 / bf16     the ONNX file compiled by OpenVINO, INFERENCE_PRECISION_HINT f32 / bf16
                           (the precision OpenVINO actually ran is printed: it may drop bf16)

The peers live in their own venv (PyTorch 2.x from PyPI pulls about 3 GB of CUDA wheels), made
on first use at --venv, outside the repository by default; the script re-runs itself there.

usage: bench_peers.py --bin PATH/webssl-dist [--arch webssl-dino300m-full2b-224] [--batch 8]
                      [--threads 2] [--rounds 2] [--iters 1] [--warmup 1] [--timeout 900]
                      [--systems webssl-fp32,webssl-bf16,torch-fp32,...] [--venv DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ["torch>=2.4", "transformers>=5,<6", "onnx", "onnxscript", "onnxruntime", "openvino", "numpy"]
SYSTEMS = ["webssl-fp32", "webssl-bf16", "torch-fp32", "torch-bf16", "onnxruntime-fp32",
           "openvino-fp32", "openvino-bf16"]


def ensure_venv(venv):
    """Re-run this script inside `venv` (made and filled on first use)."""
    py = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    r = subprocess.run([py, "-c", "import torch, transformers, onnxruntime, openvino, onnxscript"],
                       capture_output=True)
    if r.returncode:
        subprocess.check_call([py, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + PEERS)
    os.execv(py, [py] + sys.argv)


def torch_model(arch, torch_threads):
    """The transformers model of `arch` (random weights) and its image size."""
    import torch
    sys.path.insert(0, HERE)
    from bench_vs_torch import torch_model as make   # one table of bench shapes
    torch.set_num_threads(torch_threads)
    return make(arch)   # transformers 5.x picks SDPA attention by default (printed per run)


def onnx_file(args, work):
    """The model exported to ONNX once per architecture (weights in an external data file)."""
    path = os.path.join(work, f"{args.arch}.onnx")
    if os.path.exists(path):
        return path
    import torch
    model, img = torch_model(args.arch, args.threads)
    x = torch.randn(args.batch, 3, img, img)
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, input_names=["pixel_values"],
                          output_names=["last_hidden_state"], dynamo=True, external_data=True)
    return path


def worker(args):
    """Run one system: warm-up batch, then `iters` timed batches; print a JSON line."""
    import numpy as np
    if args.worker == "export":
        return onnx_file(args, args.work)
    system, dtype = args.worker.rsplit("-", 1)
    info = ""
    if system == "torch":
        import torch
        model, img = torch_model(args.arch, args.threads)
        x = torch.randn(args.batch, 3, img, img)

        def step():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                model(pixel_values=x)
        import transformers
        info = f"torch {torch.__version__}, transformers {transformers.__version__}, " \
               f"attention {model.config._attn_implementation}"
    else:
        path = onnx_file(args, args.work)
        img = int(args.img)
        x = np.random.default_rng(0).standard_normal((args.batch, 3, img, img)).astype(np.float32)
        if system == "onnxruntime":
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
            s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            info = f"onnxruntime {ort.__version__}"

            def step():
                s.run(None, {"pixel_values": x})
        else:
            import openvino as ov
            core = ov.Core()
            cm = core.compile_model(core.read_model(path), "CPU", {
                "INFERENCE_PRECISION_HINT": "bf16" if dtype == "bf16" else "f32",
                "INFERENCE_NUM_THREADS": str(args.threads), "NUM_STREAMS": "1",
                "PERFORMANCE_HINT": "LATENCY"})
            req = cm.create_infer_request()
            ran = str(cm.get_property("INFERENCE_PRECISION_HINT"))   # "<Type: 'float32'>"
            info = f"openvino {ov.__version__}, ran {ran.split(chr(39))[-2] if chr(39) in ran else ran}"

            def step():
                req.infer({0: x})
    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        step()
    print(json.dumps({"img_s": args.batch * args.iters / (time.perf_counter() - t0), "info": info}))


def run_system(args, system, img):
    if system.startswith("webssl"):
        cmd = [args.bin, "bench", "--arch", args.arch, "--batch", str(args.batch), "--threads",
               str(args.threads), "--dtype", system.split("-")[1], "--iters", str(args.iters),
               "--warmup", str(args.warmup), "--json", os.path.join(args.work, "bench.json")]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", system, "--arch", args.arch,
               "--batch", str(args.batch), "--threads", str(args.threads), "--iters", str(args.iters),
               "--warmup", str(args.warmup), "--work", args.work, "--img", str(img), "--bin", args.bin]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, f"over the {args.timeout} s limit"
    if r.returncode:
        return None, f"failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"
    if system.startswith("webssl"):
        with open(os.path.join(args.work, "bench.json")) as f:
            j = json.load(f)
        return j["images_per_second"], j["gemm"]
    j = json.loads(r.stdout.strip().splitlines()[-1])
    return j["img_s"], j["info"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--arch", default="webssl-dino300m-full2b-224")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iters", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1, help="untimed batches first (each system)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per system per round")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--venv", default=os.path.join(os.path.expanduser("~"), ".cache", "webssl-dist",
                                                   "bench-venv"))
    ap.add_argument("--work", help="directory for the exported models (default: a temporary one)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--img", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    ensure_venv(args.venv)
    systems = args.systems.split(",")
    for s in systems:
        if s not in SYSTEMS:
            sys.exit(f"unknown system {s} (expected some of {','.join(SYSTEMS)})")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    simd = [f for f in flags if f.startswith(("avx", "fma", "amx"))]
    print(f"CPU: {cpu}, {os.cpu_count()} cores, flags: {' '.join(simd)}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        args.work = args.work or tmp
        os.makedirs(args.work, exist_ok=True)
        sys.path.insert(0, HERE)
        from bench_vs_torch import ARCH_FIELDS
        if args.arch not in ARCH_FIELDS:
            sys.exit(f"--arch {args.arch}: expected one of {', '.join(sorted(ARCH_FIELDS))}")
        img = ARCH_FIELDS[args.arch][-1]
        if any(s.split("-")[0] in ("onnxruntime", "openvino") for s in systems):
            # in its own process, so that the exporter's memory is gone before the runs
            subprocess.check_call([sys.executable, os.path.abspath(__file__), "--worker", "export",
                                   "--arch", args.arch, "--batch", str(args.batch), "--threads",
                                   str(args.threads), "--work", args.work, "--bin", args.bin])
        rates = {s: [] for s in systems}
        info = {}
        for r in range(args.rounds):
            for s in systems:
                if info.get(s, "").startswith("over the"):   # timed out once: not tried again
                    continue
                rate, info[s] = run_system(args, s, img)
                if rate is not None:
                    rates[s].append(rate)
                print(f"round {r} {s:17s} " + (f"{rate:.3f} img/s" if rate is not None else "-") +
                      f"   ({info[s]}; load {os.getloadavg()[0]:.1f})", flush=True)
    med = {s: statistics.median(v) for s, v in rates.items() if v}
    print(f"\n{args.arch}, batch {args.batch}, {args.threads} threads, {args.rounds} interleaved "
          f"rounds of {args.iters} timed batch(es) after {args.warmup} warm-up")
    print("| system | img/s per round | median | webssl (same dtype) / system |\n|---|---|---|---|")
    for s in systems:
        ours = med.get("webssl-" + s.rsplit("-", 1)[1])
        ratio = f"{ours / med[s]:.2f}" if ours and s in med else "-"
        print(f"| {s} | {', '.join(f'{x:.3f}' for x in rates[s]) or '-'} | "
              f"{f'{med[s]:.3f}' if s in med else '-'} | {ratio} |")


if __name__ == "__main__":
    main()
