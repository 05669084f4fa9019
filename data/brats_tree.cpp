#include "data/brats_tree.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "data/data_error.h"

namespace fs = std::filesystem;

namespace unet::data {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Which kind a file name is, or -1.
int file_kind(const std::string& name) {
  const std::string n = lower(name);
  for (size_t k = 0; k < kBratsFileKinds.size(); ++k)
    for (const char* ext : {".nii.gz", ".nii"})
      if (ends_with(n, fmt::format("_{}{}", kBratsFileKinds[k], ext))) return static_cast<int>(k);
  return -1;
}

}  // namespace

BratsTree find_brats_subjects(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw DataError(fmt::format("{}: not a folder of BraTS subjects", root));
  std::map<std::string, BratsSubjectFiles> found;
  std::map<std::string, std::string> folder_of;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    const int kind = file_kind(name);
    if (kind < 0) continue;
    const fs::path folder = it->path().parent_path();
    const std::string id = folder.filename().string();
    auto [pos, fresh] = folder_of.emplace(id, folder.string());
    if (!fresh && pos->second != folder.string())
      throw DataError(fmt::format("{}: subject {} also appears in {}", folder.string(), id, pos->second));
    BratsSubjectFiles& s = found[id];
    s.id = id;
    std::string& slot = s.files[static_cast<size_t>(kind)];
    // Two candidates: prefer the one named after its folder.
    if (slot.empty() || lower(name).rfind(lower(id) + "_", 0) == 0) slot = it->path().string();
  }
  if (ec) throw DataError(fmt::format("{}: cannot walk the folder: {}", root, ec.message()));
  BratsTree tree;
  for (auto& [id, s] : found) {
    for (size_t k = 0; k < kBratsFileKinds.size(); ++k)
      if (s.files[k].empty()) s.missing.push_back(kBratsFileKinds[k]);
    (s.missing.empty() ? tree.complete : tree.incomplete).push_back(std::move(s));
  }
  return tree;
}

}  // namespace unet::data
