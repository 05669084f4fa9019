// Finds the subjects of a BraTS download: folders holding <id>_{t1,t2,flair,t1ce,seg}.nii.gz
// (2017-2020 naming, any depth, e.g. MICCAI_BraTS_2018_Data_Training/HGG/<id>/).
#pragma once
#include <array>
#include <string>
#include <vector>

namespace unet::data {

// File order: the converter's channel order, then the labels.
inline constexpr std::array<const char*, 5> kBratsFileKinds{"t1", "t2", "flair", "t1ce", "seg"};

struct BratsSubjectFiles {
  std::string id;                   // the folder's name
  std::array<std::string, 5> files;  // kBratsFileKinds order; empty where missing
  std::vector<std::string> missing;  // kinds not found
};

struct BratsTree {
  std::vector<BratsSubjectFiles> complete;    // sorted by id
  std::vector<BratsSubjectFiles> incomplete;  // sorted by id, missing names what is absent
};

// A folder is a subject when it holds at least one "*_<kind>.nii[.gz]" (case-insensitive).
// Throws DataError when root is not a folder or two subject folders share an id.
BratsTree find_brats_subjects(const std::string& root);

}  // namespace unet::data
