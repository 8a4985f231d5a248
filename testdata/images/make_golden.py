#!/usr/bin/python3
"""Make the reference outputs in golden/ with scikit-image itself.

Each file is raw little-endian float32, row-major H x W x C, computed in
float64 by skimage.transform.resize with its defaults, as tensorflow-vgg's
utils.load_image calls it:

    img = skimage.io.imread(path) / 255.0
    short_edge = min(img.shape[:2])
    yy = int((img.shape[0] - short_edge) / 2)
    xx = int((img.shape[1] - short_edge) / 2)
    crop_img = img[yy: yy + short_edge, xx: xx + short_edge]
    resized_img = skimage.transform.resize(crop_img, (224, 224))

The 224 x 224 results are kept only on a grid of every 7th row and column
(32 x 32) to keep the files small. Made with Debian's python3-skimage 0.19.3
(scipy 1.10.1, Pillow 9.4.0):

    /usr/bin/python3 testdata/images/make_golden.py

images/resize_test.go lists the files, their shapes and how closely Go
matches them.
"""

import os

import numpy as np
import skimage
import skimage.io
import skimage.transform

HERE = os.path.dirname(os.path.abspath(__file__))


def load_image(path):
    """tensorflow-vgg's utils.load_image, less its assert and with alpha dropped."""
    img = skimage.io.imread(path)
    if img.ndim == 3:
        img = img[:, :, :3]
    img = img / 255.0
    short_edge = min(img.shape[:2])
    yy = int((img.shape[0] - short_edge) / 2)
    xx = int((img.shape[1] - short_edge) / 2)
    crop_img = img[yy: yy + short_edge, xx: xx + short_edge]
    return skimage.transform.resize(crop_img, (224, 224))


def save(name, a):
    a = np.asarray(a, dtype="<f4")
    if a.ndim == 2:
        a = a[:, :, None]
    a.tofile(os.path.join(HERE, "golden", name))
    print(name, a.shape)


def main():
    print("scikit-image", skimage.__version__)
    for name in ["coffee_rgba.png", "chelsea.jpg", "rocket_gray.jpg"]:
        out = load_image(os.path.join(HERE, name))
        save(name.split(".")[0] + "_vgg224_grid7.f32", out[::7, ::7])

    # Odd shapes, straight through resize without the crop.
    tiny = skimage.io.imread(os.path.join(HERE, "small/tiny.png")) / 255.0  # 16 x 24
    save("tiny_up_41x53.f32", skimage.transform.resize(tiny, (41, 53)))
    save("tiny_mixed_10x40.f32", skimage.transform.resize(tiny, (10, 40)))
    save("tiny_down_5x3.f32", skimage.transform.resize(tiny, (5, 3)))
    save("tiny_1x1.f32", skimage.transform.resize(tiny, (1, 1)))
    coffee = skimage.io.imread(os.path.join(HERE, "coffee_rgba.png"))[:, :, :3] / 255.0  # 200 x 300
    save("coffee_down_29x37.f32", skimage.transform.resize(coffee, (29, 37)))
    save("coffee_down_67x101.f32", skimage.transform.resize(coffee, (67, 101)))
    # A slight shrink (sigma about 0.03, a one-tap filter), every 5th sample.
    save("coffee_down_190x280_grid5.f32", skimage.transform.resize(coffee, (190, 280))[::5, ::5])


def alternatives():
    """Print how far other resampling filters are from skimage's (no files)."""
    from PIL import Image

    def pil(img, h, w, f):
        return np.stack([np.asarray(Image.fromarray(img[:, :, c].astype(np.float32), "F").resize((w, h), f))
                         for c in range(3)], -1)

    coffee = skimage.io.imread(os.path.join(HERE, "coffee_rgba.png"))[:, :, :3] / 255.0
    img = skimage.io.imread(os.path.join(SKDATA, "chelsea.png")) / 255.0
    s = min(img.shape[:2])
    yy, xx = (img.shape[0] - s) // 2, (img.shape[1] - s) // 2
    crop = img[yy:yy + s, xx:xx + s]
    for what, src, h, w in [("coffee 29x37", coffee, 29, 37), ("chelsea.png 224x224", crop, 224, 224)]:
        ref = skimage.transform.resize(src, (h, w))
        for name, f in [("Pillow BILINEAR (scaled triangle)", Image.BILINEAR), ("Pillow BOX (area average)", Image.BOX)]:
            d = np.abs(pil(src, h, w, f) - ref)
            print(f"{what}: {name}: max {d.max():.3g}, mean {d.mean():.3g} from skimage")


SKDATA = "/usr/lib/python3/dist-packages/skimage/data"

if __name__ == "__main__":
    main()
    alternatives()
