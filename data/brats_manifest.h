// manifest.json as unetconvert writes it (data/brats_convert.cpp): which subject and which
// axial slice each row of imgs_/msks_{train,test}.npy came from.
//   {"format": "unetconvert-manifest-1", ...,
//    "test": {"images": "imgs_test.npy", "masks": "msks_test.npy", "rows": 120,
//             "subjects": [{"id": "BraTS19_001", "first_row": 0, "slices": [40, 41, ...]}, ...]}}
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace unet::data {

struct ManifestSubject {
  std::string id;
  size_t first_row = 0;            // its rows are [first_row, first_row + slices.size())
  std::vector<uint32_t> slices;    // the volume's axial index of each row
};

struct ManifestSplit {
  size_t rows = 0;
  std::vector<ManifestSubject> subjects;  // in file order, rows back to back
  // The subject `id`, or nullptr.
  const ManifestSubject* find(const std::string& id) const;
  // The subject row `row` belongs to (nullptr past the end), and the slice.
  const ManifestSubject* subject_of(size_t row) const;
};

struct Manifest {
  std::string path;
  ManifestSplit train, test;
};

// Reads and checks <path>: the format tag, each split's subjects tiling its rows in order.
// Throws DataError naming the file and the field ("manifest.json: test.subjects[2].first_row
// is 40, the rows before it end at 38").
Manifest read_manifest(const std::string& path);

}  // namespace unet::data
