"""Planted near-duplicate photos end to end: `embed` (a tiny Web-DINO with random weights) ->
`cluster` -> `dedup`. 24 distinct synthetic photos (coloured ellipses on a background), 8 of them
also saved re-encoded (JPEG quality 70), resized (70 %) and flipped left-right.
  - each re-encoded or resized copy is found: exactly one image of each {photo, re-encoded,
    resized} group is kept at eps 0.02, its copies name a member of their group as the duplicate;
  - the 16 photos without copies are all kept (distinct photos reach cosine 0.96 with these
    weights: below the 0.98 threshold);
  - flipped copies are reported, not asserted: a random-weight ViT is not flip invariant (cosine
    about 0.7 here); a trained DINO, trained with flips as augmentation, is.
Usage: test_dedup_images.py WORKDIR."""
import os
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import curate_data as cd  # noqa: E402
from webssl_test import tiny_model  # noqa: E402
from test_dedup import load  # noqa: E402


def photos(d):
    rng = np.random.default_rng(0)
    for i in range(24):
        im = Image.new("RGB", (160, 120), tuple(int(v) for v in rng.integers(0, 255, 3)))
        draw = ImageDraw.Draw(im)
        for _ in range(6):
            x0, y0 = rng.integers(0, 140), rng.integers(0, 100)
            draw.ellipse([x0, y0, x0 + rng.integers(10, 60), y0 + rng.integers(10, 60)],
                         fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        im.save(os.path.join(d, f"p{i:02d}.png"))
        if i < 8:
            im.save(os.path.join(d, f"p{i:02d}_jpeg.jpg"), quality=70)
            im.resize((112, 84), Image.BICUBIC).save(os.path.join(d, f"p{i:02d}_small.png"))
            im.transpose(Image.FLIP_LEFT_RIGHT).save(os.path.join(d, f"p{i:02d}_flip.png"))


def stem(k):
    return os.path.splitext(os.path.basename(k))[0]


def main():
    work = cd.fresh_dir(sys.argv[1])
    img = cd.fresh_dir(os.path.join(work, "img"))
    photos(img)
    model = os.path.join(work, "model")
    tiny_model("dino", model, C=64, L=2, NH=4, img=56)
    emb, cl, dd = (os.path.join(work, n) for n in ("emb", "cl", "dd"))
    cd.run(["embed", "--model", model, "--input", img, "--output", emb, "--resolution", "56", "--preprocess",
            "square", "--shard-size", "20"])
    cd.run(["cluster", "--input", emb, "--output", cl, "--k", "3", "--quiet"])
    cd.run(["dedup", "--input", emb, "--clusters", cl, "--output", dd, "--eps", "0.02"], ranks=2)
    r = load(dd)
    keys = [stem(k) for k in r["key"]]
    row = {k: i for i, k in enumerate(keys)}
    shard_rows = {}
    for i, (s, rr) in enumerate(zip(r["duplicate_shard"], r["duplicate_row"])):
        shard_rows[i] = (s, int(rr))
    # global position of (shard, row): the files are in shard order
    names = sorted(n[:-3] for n in os.listdir(dd) if n.endswith(".h5") and not n.startswith("."))
    first, at = {}, 0
    for n in names:
        with h5py.File(os.path.join(dd, n + ".h5")) as f:
            first[n] = at
            at += len(f["key"])
    keep = r["keep"][:, 0]
    for g in range(8):
        members = [f"p{g:02d}", f"p{g:02d}_jpeg", f"p{g:02d}_small"]
        kept = [m for m in members if keep[row[m]]]
        if len(kept) != 1:
            raise SystemExit(f"FAIL: group {g}: kept {kept}, expected exactly one of {members}")
        for m in members:
            if m in kept:
                continue
            s, rr = shard_rows[row[m]]
            dup = keys[first[s] + rr]
            if dup not in members + [f"p{g:02d}_flip"]:
                raise SystemExit(f"FAIL: {m} is marked a duplicate of {dup}")
        sims = ", ".join("%s: %.4f" % (m, r["max_similarity"][row[m]]) for m in members if m not in kept)
        print(f"group {g}: kept {kept[0]}; max similarity of the copies {sims}")
    alone = [f"p{i:02d}" for i in range(8, 24)]
    if not all(keep[row[m]] for m in alone):
        raise SystemExit("FAIL: a distinct photo was removed")
    flips = [float(r["max_similarity"][row[f"p{g:02d}_flip"]]) for g in range(8)]
    removed = sum(1 for g in range(8) if not keep[row["p%02d_flip" % g]])
    print(f"the 16 distinct photos kept; flipped copies (not asserted): max similarity "
          f"{min(flips):.3f}..{max(flips):.3f}, {removed} removed")
    print("OK")


if __name__ == "__main__":
    main()
