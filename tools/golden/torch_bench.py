#!/usr/bin/python3
"""Times torchvision's networks with PyTorch on the same machine as
`vkvgg bench`, for the README's side-by-side figures: ms per image at each
batch size, random weights, 224x224, cuDNN's autotuner on. On CUDA it
times fp32 twice, strict (TF32 off, the arithmetic vkvgg does) and with
TF32 tensor cores (PyTorch's default for convolutions), then fp16.

Run: /usr/bin/python3 tools/golden/torch_bench.py [--device cuda|cpu]
     [--nets vgg16,resnet50] [--batches 1,8,32] [--iters 5]
"""
import argparse
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--nets", default="vgg16,alexnet,resnet50")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--iters", type=int, default=5)
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = True
    print("torch", torch.__version__, "on", torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu")
    for name in a.nets.split(","):
        net = getattr(torchvision.models, name)(weights=None).eval().to(dev)
        modes = [("float32", torch.float32, False)]
        if dev.type == "cuda":
            modes += [("float32-tf32", torch.float32, True), ("float16", torch.float16, False)]
        for label, dt, tf32 in modes:
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            net = net.to(dt)
            for n in map(int, a.batches.split(",")):
                x = torch.rand(n, 3, 224, 224, device=dev, dtype=dt)
                with torch.inference_mode():
                    net(x)  # warm-up (and cuDNN's choice of algorithms)
                    net(x)
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                    for _ in range(a.iters):
                        net(x)
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                secs = (time.perf_counter() - start) / a.iters
                print("%s %s batch %d: %.2f ms per image" % (name, label, n, secs * 1000 / n))


if __name__ == "__main__":
    main()
