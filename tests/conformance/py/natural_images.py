"""Natural-image samples for quantizing image models: crops of
scikit-learn's two sample photographs (load_sample_images: a temple in China
and a flower), resized to the model's input and normalized.

Usage: natural_images.py OUT_DIR HEIGHT WIDTH MEAN STD N_CALIBRATION N_TEST

Writes OUT_DIR/calibration/NNN.npy and OUT_DIR/test/NNN.npy, float32
[1, HEIGHT, WIDTH, 3], (pixel - MEAN) / STD. Calibration crops and test
crops come from different random streams (and are flipped differently), so
the test samples are held out. Deterministic.
"""
import os
import sys

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images


def crops(images, n, h, w, seed):
    rng = np.random.RandomState(seed)
    out = []
    for i in range(n):
        img = images[i % len(images)]
        ih, iw = img.shape[:2]
        side = int(rng.uniform(0.35, 1.0) * min(ih, iw))
        y = rng.randint(0, ih - side + 1)
        x = rng.randint(0, iw - side + 1)
        crop = Image.fromarray(img[y:y + side, x:x + side]).resize((w, h), Image.BILINEAR)
        a = np.asarray(crop, dtype=np.float32)
        if rng.rand() < 0.5:
            a = a[:, ::-1]
        out.append(a)
    return out


def main():
    out, h, w, mean, std, n_cal, n_test = sys.argv[1:8]
    h, w, n_cal, n_test = int(h), int(w), int(n_cal), int(n_test)
    mean, std = float(mean), float(std)
    images = load_sample_images().images
    for sub, n, seed in (("calibration", n_cal, 1), ("test", n_test, 2)):
        d = os.path.join(out, sub)
        os.makedirs(d, exist_ok=True)
        for i, a in enumerate(crops(images, n, h, w, seed)):
            x = ((a - mean) / std)[None].astype(np.float32)
            np.save(os.path.join(d, "%03d.npy" % i), np.ascontiguousarray(x))


if __name__ == "__main__":
    main()
