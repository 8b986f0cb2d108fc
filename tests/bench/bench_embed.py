"""`embed` end to end against `bench` on the same model shape, batch and threads: how much of the
forward pass's speed reaches a user who embeds JPEG files (decoding, preprocessing and the HDF5
writes overlapped with compute). Makes, under --work, the bench architecture with random weights
saved by transformers (a real checkpoint directory) and --images JPEG photos (the quick-start
photographs re-encoded at quality 90, cycled), then runs `bench` and `embed` alternately and
prints img/s per round and embed / bench. embed's figure is its summary line: the loop's wall
time, first batch included, model loading excluded.

    python tests/bench/bench_embed.py --bin build/src/webssl-dist --work /tmp/be \
        [--arch webssl-dino300m-full2b-224] [--images 32] [--batch 8] [--threads 2] [--rounds 2]
"""
import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def make_model(arch, path):
    sys.path.insert(0, HERE)
    from bench_vs_torch import torch_model   # one table of bench shapes
    from transformers import BitImageProcessor
    model, size = torch_model(arch)
    model.save_pretrained(path)
    BitImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                      resample=3, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(path)


def make_images(path, n):
    photos = sorted(glob.glob(os.path.join(ROOT, "sample", "images", "*")))
    if not photos:
        sys.exit("no sample/images: run `bash launch/quickstart` (or launch/make-sample.py) first")
    os.makedirs(path, exist_ok=True)
    for i in range(n):
        Image.open(photos[i % len(photos)]).convert("RGB").save(
            os.path.join(path, f"{i:05d}.jpg"), "JPEG", quality=90)


def run(cmd, pattern):
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout + p.stderr
    m = re.search(pattern, out)
    if p.returncode or not m:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{out[-2000:]}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--arch", default="webssl-dino300m-full2b-224")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    model, images = os.path.join(args.work, args.arch), os.path.join(args.work, "images")
    if not os.path.exists(os.path.join(model, "config.json")):
        make_model(args.arch, model)
    if len(glob.glob(os.path.join(images, "*.jpg"))) != args.images:
        shutil.rmtree(images, ignore_errors=True)
        make_images(images, args.images)
    common = ["--batch", str(args.batch), "--threads", str(args.threads)]
    load = lambda: open("/proc/loadavg").read().split()[0]
    rows = []
    for r in range(args.rounds):
        b = run([args.bin, "bench", "--arch", args.arch, "--iters", "2", "--warmup", "1"] + common,
                r"([0-9.]+) img/s")
        out = os.path.join(args.work, "out")
        shutil.rmtree(out, ignore_errors=True)
        e = run([args.bin, "embed", "--model", model, "--input", images, "--output", out,
                 "--shard-size", str(max(1, args.images // 2))] + common, r"summary: .* ([0-9.]+) img/s")
        rows.append((b, e))
        print(f"round {r + 1}: bench {b:.3f} img/s, embed {e:.3f} img/s, embed / bench {e / b:.2f} "
              f"(load {load()})", flush=True)
    print(f"median embed / bench: {statistics.median(e / b for b, e in rows):.2f}")


if __name__ == "__main__":
    main()
