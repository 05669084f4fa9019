"""nibabel reads what write_nifti wrote. Usage: check_written.py FILE EXPECTED.npy DTYPE.
EXPECTED is float32 with x fastest; DTYPE the numpy dtype the file must hold."""
import sys

import nibabel as nib
import numpy as np

img = nib.load(sys.argv[1])
expected = np.load(sys.argv[2])
data = np.asarray(img.dataobj)
assert data.dtype == np.dtype(sys.argv[3]), "dtype %s, expected %s" % (data.dtype, sys.argv[3])
got = np.ascontiguousarray(data.transpose(2, 1, 0)).astype(np.float32)
assert got.shape == expected.shape, "shape %s, expected %s" % (got.shape, expected.shape)
assert np.array_equal(got, expected), "voxels differ"
print("ok")
