#!/usr/bin/env python3
"""The seed's UNet trained in PyTorch, as the peer for unetbench's whole-step figures.

Same model (models/unet_brats.def), same loss (-log Dice over the batch, smooth 1), Adam,
128x128x1 input. Prints one line: images/s over the timed steps.

  /usr/bin/python3 bench/peers/unet_pytorch.py --batch 16 --threads 2 --steps 5
"""
import argparse
import time

import torch
import torch.nn as nn


def double_conv(cin, cout, dropout=0.0):
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    def __init__(self, upsampling=False):
        super().__init__()
        f = [32, 64, 128, 256, 512]
        self.enc = nn.ModuleList([double_conv(1, f[0]), double_conv(f[0], f[1]),
                                  double_conv(f[1], f[2], 0.2), double_conv(f[2], f[3], 0.2)])
        self.mid = double_conv(f[3], f[4])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(f[4 - k], f[3 - k], 2, stride=2) for k in range(4)])
        self.dec = nn.ModuleList([double_conv(2 * f[3 - k], f[3 - k]) for k in range(4)])
        self.head = nn.Conv2d(f[0], 1, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = self.pool(x)
        x = self.mid(x)
        for k in range(4):
            x = torch.cat([self.up[k](x), skips[3 - k]], dim=1)
            x = self.dec[k](x)
        return torch.sigmoid(self.head(x))


def dice_loss(p, t, smooth=1.0):
    inter = (p * t).sum()
    return -torch.log((2 * inter + smooth) / (p.sum() + t.sum() + smooth))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--channels_last", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet()
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, eps=1e-8)
    x = torch.randn(a.batch, 1, a.size, a.size)
    t = (torch.rand(a.batch, 1, a.size, a.size) > 0.8).float()
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = dice_loss(model(x), t)
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
    print(f"pytorch {torch.__version__} batch {a.batch} threads {a.threads}: "
          f"{a.batch * a.steps / secs:.2f} images/s ({secs / a.steps:.3f} s/step)")


if __name__ == "__main__":
    main()
