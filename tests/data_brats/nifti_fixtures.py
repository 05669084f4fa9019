"""NIfTI-1 fixtures written by nibabel, the independent implementation the reader is checked
against. Usage: nifti_fixtures.py OUTDIR. For every supported datatype, both byte orders,
with and without scl_slope/scl_inter, plain and gzip'd, writes <name>.nii[.gz] and
<name>.expected.npy (what nibabel reads back, float64, x fastest), and lists the names in
OUTDIR/fixtures.txt.
"""
import gzip
import os
import struct
import sys

import nibabel as nib
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(20240611)
shape = (5, 4, 3)
ranges = {
    "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-2**31, 2**31 - 1),
    "uint16": (0, 65535), "float32": None, "float64": None,
}
names = []
for dtype, bounds in ranges.items():
    if bounds is None:
        data = (rng.standard_normal(shape) * 1000).astype(dtype)
    else:
        data = rng.integers(bounds[0], bounds[1], size=shape, endpoint=True).astype(dtype)
    data.flat[0] = 0
    for endian in "<>":
        for scaled in (False, True):
            for gz in (False, True):
                name = "%s_%s_%s_%s" % (dtype, "le" if endian == "<" else "be", "scaled" if scaled else "raw",
                                        "gz" if gz else "plain")
                header = nib.Nifti1Header(endianness=endian)
                header.set_data_dtype(dtype)
                img = nib.Nifti1Image(data, np.diag([1.5, 2.0, 2.5, 1.0]), header=header)
                plain = os.path.join(out, name + ".tmp.nii")
                nib.save(img, plain)
                raw = bytearray(open(plain, "rb").read())
                os.remove(plain)
                if scaled:
                    # Patch scl_slope / scl_inter (bytes 112, 116) in the file's byte order.
                    raw[112:120] = struct.pack(endian + "ff", 0.25, -7.5)
                path = os.path.join(out, name + (".nii.gz" if gz else ".nii"))
                if gz:
                    with gzip.open(path, "wb") as f:
                        f.write(bytes(raw))
                else:
                    open(path, "wb").write(bytes(raw))
                back = nib.load(path)
                assert back.header.endianness == endian, name
                expected = np.asarray(back.get_fdata(dtype=np.float64))
                np.save(os.path.join(out, name + ".expected.npy"), np.ascontiguousarray(expected.transpose(2, 1, 0)))
                names.append(name + (".nii.gz" if gz else ".nii"))
open(os.path.join(out, "fixtures.txt"), "w").write("\n".join(names) + "\n")
