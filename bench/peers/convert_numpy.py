#!/usr/bin/python3
"""The numpy + nibabel peer of unetconvert, for the speed comparison (bench/convert/).

Does the same work the same way a careful Python user would: per subject, load the five
volumes with nibabel, z-score each modality over its nonzero voxels, take every axial
slice, centre-crop, numpy.rot90, one-hot the labels, split by subject with the same
seeded shuffle as unetconvert, and save imgs_/msks_{train,test}.npy (float32). It keeps
whole splits in memory (np.save needs the array), which is what the comparison of peak
memory measures.
"""
import argparse
import os
import sys

import nibabel as nib
import numpy as np

KINDS = ["t1", "t2", "flair", "t1ce", "seg"]
M64 = (1 << 64) - 1


def mix(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def split_by_subject(n, fraction, seed):
    """unetconvert's split: splitmix64 Fisher-Yates over the sorted ids."""
    state = mix(seed ^ 0x5B11)
    order = list(range(n))
    for i in range(n, 1, -1):
        state = (state + 0x9E3779B97F4A7C15) & M64
        j = mix(state) % i
        order[i - 1], order[j] = order[j], order[i - 1]
    n_train = int(np.floor(min(max(fraction, 0.0), 1.0) * n + 0.5))
    if 0.0 < fraction < 1.0 and n >= 2:
        n_train = min(max(n_train, 1), n - 1)
    train = [False] * n
    for i in order[:n_train]:
        train[i] = True
    return train


def find_subjects(root):
    subjects = {}
    for folder, _, files in os.walk(root, followlinks=True):
        sid = os.path.basename(folder)
        for f in files:
            low = f.lower()
            for k in KINDS:
                if low.endswith("_%s.nii.gz" % k) or low.endswith("_%s.nii" % k):
                    subjects.setdefault(sid, {})[k] = os.path.join(folder, f)
    complete = {s: f for s, f in subjects.items() if all(k in f for k in KINDS)}
    return sorted(complete), complete


def crop(img, size):
    nx, ny = img.shape[:2]
    ox, oy = (nx - size) // 2, (ny - size) // 2
    return img[ox:ox + size, oy:oy + size]


def convert_subject(files, size, rotate):
    seg = np.asarray(nib.load(files["seg"]).dataobj)
    channels = []
    for k in KINDS[:4]:
        vol = nib.load(files[k]).get_fdata(dtype=np.float32)
        brain = vol != 0
        mean, sd = vol[brain].mean(dtype=np.float64), vol[brain].std(dtype=np.float64)
        vol = np.where(brain, (vol - np.float32(mean)) * np.float32(1.0 / (sd if sd > 0 else 1.0)), 0).astype(np.float32)
        channels.append(vol)
    imgs = np.stack(channels, axis=-1)  # x, y, z, c
    imgs = np.rot90(crop(imgs, size), rotate, axes=(0, 1))
    imgs = np.ascontiguousarray(np.moveaxis(imgs, 2, 0))  # z, h, w, c
    labels = np.rot90(crop(seg, size), rotate, axes=(0, 1))
    labels = np.moveaxis(labels, 2, 0)
    msks = np.stack([labels == v for v in (0, 1, 2, 4)], axis=-1).astype(np.float32)
    return imgs, msks


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--rotate", type=int, default=3)
    ap.add_argument("--train_test_split", type=float, default=0.85)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    ids, files = find_subjects(a.root)
    train = split_by_subject(len(ids), a.train_test_split, a.seed)
    out = {"train": ([], []), "test": ([], [])}
    for sid, is_train in zip(ids, train):
        imgs, msks = convert_subject(files[sid], a.size, a.rotate)
        side = out["train" if is_train else "test"]
        side[0].append(imgs)
        side[1].append(msks)
    os.makedirs(a.output, exist_ok=True)
    empty = np.zeros((0, a.size, a.size, 4), np.float32)
    for name, (imgs, msks) in out.items():
        np.save(os.path.join(a.output, "imgs_%s.npy" % name), np.concatenate(imgs) if imgs else empty)
        np.save(os.path.join(a.output, "msks_%s.npy" % name), np.concatenate(msks) if msks else empty)
    print("%s: %d subjects" % (a.output, len(ids)), file=sys.stderr)


if __name__ == "__main__":
    main()
