"""Checks a unetconvert output folder against its manifest, independently of the C++ code.
Usage: check_conversion.py OUTDIR SLICES_PER_SUBJECT. Prints "ok" or fails an assert."""
import json
import os
import sys

import numpy as np

out, per_subject = sys.argv[1], int(sys.argv[2])
m = json.load(open(os.path.join(out, "manifest.json")))
seen = {}
for side in ("train", "test"):
    s = m[side]
    imgs = np.load(os.path.join(out, s["images"]))
    msks = np.load(os.path.join(out, s["masks"]))
    assert imgs.shape == msks.shape, (imgs.shape, msks.shape)
    assert imgs.shape[0] == s["rows"], (side, imgs.shape, s["rows"])
    assert imgs.shape[1:] == (m["size"], m["size"], 4), imgs.shape
    assert str(imgs.dtype) == m["dtype"] and str(msks.dtype) == m["mask_dtype"], (imgs.dtype, msks.dtype)
    assert np.all(msks.astype(np.float64).sum(axis=-1) == 1), "masks are not one-hot"
    assert set(np.unique(msks.astype(np.float64))) <= {0.0, 1.0}
    row = 0
    for e in s["subjects"]:
        assert e["id"] not in seen, "%s is in both %s and %s" % (e["id"], seen[e["id"]], side)
        seen[e["id"]] = side
        assert e["first_row"] == row, (e, row)
        assert e["slices"] == list(range(per_subject)), e["slices"][:5]
        row += len(e["slices"])
    assert row == s["rows"], (row, s["rows"])
print("ok")
