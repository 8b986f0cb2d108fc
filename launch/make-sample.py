"""Makes the built-in quick-start inputs: a tiny Web-DINO-shaped model with random weights saved
by HuggingFace transformers (a real checkpoint directory: config.json + model.safetensors +
preprocessor_config.json), and a directory of sample images (Debian's scikit-image photographs
as JPEG, PNG and WebP).

    python launch/make-sample.py OUT_DIR      ->  OUT_DIR/model/, OUT_DIR/images/
"""
import os
import sys

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata
from transformers import BitImageProcessor, Dinov2Config, Dinov2Model


def make_model(path):
    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, mlp_ratio=4,
                          patch_size=14, image_size=56, use_swiglu_ffn=True, layer_norm_eps=1e-6,
                          layerscale_value=0.5)
    model = Dinov2Model(config).eval()
    model.save_pretrained(path)
    BitImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 56, "width": 56},
                      resample=3, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(path)


def make_images(path):
    os.makedirs(path, exist_ok=True)
    photos = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera"]
    for i, name in enumerate(photos):
        img = Image.fromarray(getattr(skdata, name)())
        fmt = ["JPEG", "JPEG", "PNG", "JPEG", "WEBP", "JPEG"][i]
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
        img.save(os.path.join(path, f"{i:02d}-{name}.{ext}"), fmt, quality=90)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(300, 500, 3), dtype=np.uint8)
    Image.fromarray(noise).save(os.path.join(path, "06-noise.jpg"), quality=85)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "sample"
    make_model(os.path.join(out, "model"))
    make_images(os.path.join(out, "images"))
    print(f"sample model in {out}/model, images in {out}/images")


if __name__ == "__main__":
    main()
