// Input a hostile (or unlucky) user can hand us: sparse files claiming huge shapes, FIFOs in
// place of files, headers claiming gigabytes, NaN voxels, plans the runtime cannot place.
// Each must be refused with one line naming the file, at once, without allocating what the
// input claims. The peak memory of each attempt is measured in a forked child (its own
// high-water mark), so a regression to "allocate first, check later" fails here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "data/brats_slices.h"
#include "data/nifti_reader.h"
#include "data/nifti_writer.h"
#include "data/npy.h"
#include "data/npz.h"
#include "plan/plan_io.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

namespace fs = std::filesystem;

// Far above what any refusal here needs (the tools' own start-up is tens of MB, more under
// ASan), far below what the inputs claim (gigabytes to terabytes).
constexpr long kPeakLimitKb = 400 * 1024;

struct Outcome {
  bool exited = false;  // false: killed (a crash, or the timeout)
  int status = -1;
  bool timed_out = false;
  std::string output;  // what the child wrote to stdout and stderr (or the exception's text)
  double seconds = 0;
  long peak_rss_kb = 0;
};

// Runs `body` in a forked child with a deadline; its output (a pipe) and its peak RSS.
Outcome in_child(const std::function<int()>& body, double timeout_s = 20) {
  int pipe_fd[2];
  EXPECT_EQ(0, pipe(pipe_fd));
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fd[0]);
    dup2(pipe_fd[1], 1);
    dup2(pipe_fd[1], 2);
    _exit(body());
  }
  close(pipe_fd[1]);
  fcntl(pipe_fd[0], F_SETFL, O_NONBLOCK);
  Outcome o;
  int status = 0;
  rusage usage{};
  for (;;) {
    char buf[4096];
    ssize_t n;
    while ((n = read(pipe_fd[0], buf, sizeof buf)) > 0) o.output.append(buf, static_cast<size_t>(n));
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (o.seconds > timeout_s && !o.timed_out) {
      o.timed_out = true;
      kill(pid, SIGKILL);
    }
    usleep(2000);
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(pipe_fd[0], buf, sizeof buf)) > 0) o.output.append(buf, static_cast<size_t>(n));
  close(pipe_fd[0]);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.exited = WIFEXITED(status);
  o.status = o.exited ? WEXITSTATUS(status) : -1;
  o.peak_rss_kb = usage.ru_maxrss;
  return o;
}

// A tool run by the shell, in a child as above.
Outcome run_tool(const std::string& command, double timeout_s = 20) {
  return in_child([&] {
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    return 127;
  }, timeout_s);
}

// A library call that must throw: the child prints what() and exits 1 (0: it did not throw).
Outcome refused_call(const std::function<void()>& call) {
  return in_child([&] {
    try {
      call();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    return 0;
  });
}

void expect_refused(const Outcome& o, const std::string& needle) {
  EXPECT_FALSE(o.timed_out) << "hung; output: " << o.output;
  EXPECT_TRUE(o.exited) << "crashed; output: " << o.output;
  EXPECT_NE(o.status, 0) << o.output;
  EXPECT_NE(o.output.find(needle), std::string::npos) << o.output;
  EXPECT_EQ(o.output.find('\n'), o.output.size() - 1) << "not one line: " << o.output;
  EXPECT_LT(o.peak_rss_kb, kPeakLimitKb) << o.output;
}

// A .npy header for `shape` and `descr`, the file then extended (sparsely) to the size the
// shape claims, so every check against the file's size passes.
void write_sparse_npy(const std::string& path, const std::vector<uint64_t>& shape, const char* descr,
                      uint64_t elem_bytes) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  uint64_t count = 1;
  for (uint64_t d : shape) {
    dict += std::to_string(d) + ", ";
    count *= d;
  }
  dict += "), }";
  std::string header = std::string("\x93NUMPY\x01\x00", 8);
  const size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  header.push_back(static_cast<char>(dict.size() & 0xff));
  header.push_back(static_cast<char>(dict.size() >> 8));
  header += dict;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(static_cast<ssize_t>(header.size()), write(fd, header.data(), header.size()));
  ASSERT_EQ(0, ftruncate(fd, static_cast<off_t>(header.size() + count * elem_bytes)))
      << path << ": the file system cannot hold a sparse file of the claimed size";
  close(fd);
}

void write_text(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::vector<uint8_t> bytes(fs::file_size(path));
  FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_EQ(bytes.size(), std::fread(bytes.data(), 1, bytes.size(), f));
  std::fclose(f);
  return bytes;
}

void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile g = gzopen(path.c_str(), "wb1");
  ASSERT_NE(g, nullptr) << path;
  ASSERT_EQ(static_cast<int>(bytes.size()), gzwrite(g, bytes.data(), static_cast<unsigned>(bytes.size())));
  gzclose(g);
}

void put_f32(std::vector<uint8_t>& b, size_t at, float v) { std::memcpy(b.data() + at, &v, 4); }

class HostileInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("hostile");
    plan_ = dir_ + "/plan.bin";
    plan::write_plan_file(test::compile(test::kTinyModel, 2), plan_);
    test::write_dataset(dir_ + "/data", "train", 4, 16, 16, 1);
    test::write_dataset(dir_ + "/data", "test", 2, 16, 16, 2);
  }
  std::string unetrun(const std::string& args) const {
    return std::string(UNETRUN_PATH) + " " + args + " --num_threads 1 --channels flair,t1ce --log " + dir_ +
           "/training.log --checkpoint_dir " + dir_ + "/ck --epochs 1 --batch_size 2";
  }
  std::string fifo(const std::string& name) const {
    const std::string p = dir_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    EXPECT_EQ(0, mkfifo(p.c_str(), 0644)) << p;
    return p;
  }
  std::string dir_, plan_;
};

// --- sizes read from a file stay 64-bit until bounded -------------------------------------

// Mask channels of 2^32 + 1 narrowed to int were 1: the row buffers were sized for one
// channel and the reader wrote 2^32 + 1 of them (a heap overflow from a 20 KB file).
TEST_F(HostileInput, MaskChannelsPastTwoToThe32AreRefused) {
  const std::string d = dir_ + "/wide";
  test::write_dataset(d, "train", 4, 16, 16, 1);
  fs::remove(d + "/msks_train.npy");
  write_sparse_npy(d + "/msks_train.npy", {4, 16, 16, (uint64_t{1} << 32) + 1}, "|u1", 1);
  expect_refused(refused_call([&] { runtime::Dataset(d, "train", {1, {2, 3}}, 2, 16, 16, 2); }),
                 "masks have 4294967297 channels");
  expect_refused(run_tool(unetrun(plan_ + " --data " + d)), "msks_train.npy: masks have 4294967297 channels");
}

// An image height of 2^32 + 16 narrowed to int was 16: it matched the plan.
TEST_F(HostileInput, ImageHeightPastTwoToThe32IsRefused) {
  const std::string d = dir_ + "/tall";
  fs::create_directories(d);
  const std::vector<uint64_t> shape{1, (uint64_t{1} << 32) + 16, 16, 4};
  write_sparse_npy(d + "/imgs_train.npy", shape, "|u1", 1);
  write_sparse_npy(d + "/msks_train.npy", shape, "|u1", 1);
  expect_refused(run_tool(unetrun(plan_ + " --data " + d)), "images are 4294967312x16");
}

TEST_F(HostileInput, ImageChannelsPastTheFourModalitiesAreRefused) {
  const std::string d = dir_ + "/many";
  fs::create_directories(d);
  write_sparse_npy(d + "/imgs_train.npy", {4, 16, 16, (uint64_t{1} << 32) + 4}, "|u1", 1);
  write_sparse_npy(d + "/msks_train.npy", {4, 16, 16, 4}, "|u1", 1);
  expect_refused(run_tool(unetrun(plan_ + " --data " + d)), "images have 4294967300 channels; expected 1 to 4");
}

// --- only regular files are opened for reading (a FIFO would block the open forever) -------

TEST_F(HostileInput, FifoAsTrainingImages) {
  const std::string d = dir_ + "/fifo_data";
  test::write_dataset(d, "train", 4, 16, 16, 1);
  fs::remove(d + "/imgs_train.npy");
  fifo("fifo_data/imgs_train.npy");
  expect_refused(run_tool(unetrun(plan_ + " --data " + d)), "imgs_train.npy: not a regular file");
}

TEST_F(HostileInput, FifoAsPlan) {
  const std::string p = fifo("fifo_plan.bin");
  expect_refused(run_tool(unetrun(p + " --data " + dir_ + "/data")), "fifo_plan.bin: not a regular file");
  expect_refused(run_tool(std::string(UNETC_PATH) + " --dump " + p), "fifo_plan.bin: not a regular file");
}

TEST_F(HostileInput, FifoAsModelDescription) {
  const std::string p = fifo("fifo_model.def");
  expect_refused(run_tool(std::string(UNETC_PATH) + " " + p + " -o " + dir_ + "/out.bin"),
                 "fifo_model.def: not a regular file");
  EXPECT_FALSE(fs::exists(dir_ + "/out.bin"));
}

TEST_F(HostileInput, FifoAsCheckpoint) {
  const std::string p = fifo("fifo_init.npz");
  expect_refused(run_tool(unetrun(plan_ + " --data " + dir_ + "/data --init_checkpoint " + p)),
                 "fifo_init.npz: not a regular file");
  fs::create_directories(dir_ + "/ck");
  fifo("ck/latest.npz");
  expect_refused(run_tool(unetrun(plan_ + " --data " + dir_ + "/data --resume")), "latest.npz: not a regular file");
  expect_refused(run_tool(std::string(UNETRUN_PATH) + " " + plan_ + " --infer --channels flair,t1ce --data " + dir_ +
                          "/data --checkpoint " + p + " --out " + dir_),
                 "fifo_init.npz: not a regular file");
}

TEST_F(HostileInput, FifoAsClusterFile) {
  const std::string p = fifo("fifo_cluster.toml");
  expect_refused(run_tool(unetrun(plan_ + " --data " + dir_ + "/data --worker --cluster " + p)),
                 "fifo_cluster.toml");
}

TEST_F(HostileInput, FifoAsNiftiVolume) {
  const std::string p = fifo("fifo.nii.gz");
  expect_refused(refused_call([&] { data::read_nifti(p); }), "fifo.nii.gz: not a regular file");
  expect_refused(refused_call([&] { data::read_nifti_header(p); }), "fifo.nii.gz: not a regular file");
}

// --- allocations sized from a header only after the header is checked --------------------

// A member claiming 0xfffffff0 bytes, its "deflate data" 4.2 MB of noise: the reader once
// allocated (and zeroed) the whole claim before inflate found the data corrupt.
TEST_F(HostileInput, NpzMemberClaimingFourGigabytesIsNotAllocated) {
  std::mt19937 rng(5);
  std::string noise(4200 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  const std::string name = "c1/kernel.npy";
  const uint32_t claimed = 0xfffffff0u, csize = static_cast<uint32_t>(noise.size());
  auto put16 = [](std::string& s, uint16_t v) { s.append({static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}); };
  auto put32 = [&](std::string& s, uint32_t v) {
    put16(s, static_cast<uint16_t>(v & 0xffff));
    put16(s, static_cast<uint16_t>(v >> 16));
  };
  std::string zip;
  put32(zip, 0x04034b50);
  for (uint16_t v : std::initializer_list<uint16_t>{20, 0, 8, 0, 0}) put16(zip, v);  // version, flags, deflate, time, date
  put32(zip, 0);                                      // crc (never reached)
  put32(zip, csize);
  put32(zip, claimed);
  put16(zip, static_cast<uint16_t>(name.size()));
  put16(zip, 0);
  zip += name + noise;
  const uint32_t central = static_cast<uint32_t>(zip.size());
  put32(zip, 0x02014b50);
  for (uint16_t v : std::initializer_list<uint16_t>{20, 20, 0, 8, 0, 0}) put16(zip, v);
  put32(zip, 0);
  put32(zip, csize);
  put32(zip, claimed);
  for (uint16_t v : std::initializer_list<uint16_t>{static_cast<uint16_t>(name.size()), 0, 0, 0, 0}) put16(zip, v);
  put32(zip, 0);  // external attributes
  put32(zip, 0);  // local header at byte 0
  zip += name;
  const uint32_t central_size = static_cast<uint32_t>(zip.size()) - central;
  put32(zip, 0x06054b50);
  for (uint16_t v : std::initializer_list<uint16_t>{0, 0, 1, 1}) put16(zip, v);
  put32(zip, central_size);
  put32(zip, central);
  put16(zip, 0);
  const std::string path = dir_ + "/claims.npz";
  write_text(path, zip);
  expect_refused(refused_call([&] { data::NpzReader::open(path).get("c1/kernel"); }), "corrupt deflate data");
  expect_refused(run_tool(unetrun(plan_ + " --data " + dir_ + "/data --init_checkpoint " + path)),
                 "claims.npz: member 'c1/kernel'");
}

// vox_offset 4.3e9 in a 4 MB .nii.gz (noise compresses to its own size, so the claim passes
// the deflate-ratio bound): the skip to the voxels once allocated a 4.3 GB buffer.
TEST_F(HostileInput, NiftiVoxOffsetOfGigabytesIsSkippedNotAllocated) {
  std::mt19937 rng(9);
  std::vector<uint16_t> noise(2 * 1024 * 1024);
  for (uint16_t& v : noise) v = static_cast<uint16_t>(rng());
  const std::string plain = dir_ + "/noise.nii";
  data::write_nifti(plain, {128, 128, 128}, {1, 1, 1}, data::NiftiDatatype::i16, noise.data());
  std::vector<uint8_t> bytes = read_all(plain);
  put_f32(bytes, 108, 4.3e9f);
  const std::string gz = dir_ + "/far.nii.gz";
  write_gzip(gz, bytes);
  ASSERT_GT(fs::file_size(gz), 3'950'000u);
  expect_refused(refused_call([&] { data::read_nifti(gz); }), "far.nii.gz: vox_offset (byte 108) is 4300000256");
}

// One 1x1x32767 label volume beside 8x8x4 images: the slices were sized by the labels
// (9 GB at 128x128) before the images' dims were read.
TEST_F(HostileInput, LabelVolumeOfThirtyTwoThousandSlicesIsComparedBeforeSizing) {
  data::BratsSubjectFiles files;
  files.id = "s1";
  std::vector<int16_t> image(8 * 8 * 4, 100);
  for (size_t m = 0; m < 4; ++m) {
    files.files[m] = dir_ + "/s1_" + std::to_string(m) + ".nii.gz";
    data::write_nifti(files.files[m], {8, 8, 4}, {1, 1, 1}, data::NiftiDatatype::i16, image.data());
  }
  std::vector<uint8_t> labels(32767, 0);
  files.files[4] = dir_ + "/s1_seg.nii.gz";
  data::write_nifti(files.files[4], {1, 1, 32767}, {1, 1, 1}, data::NiftiDatatype::u8, labels.data());
  data::SliceOptions o;
  o.size = 128;
  expect_refused(refused_call([&] { data::slice_brats_subject(files, o); }), "dims 8x8x4 differ from 1x1x32767");
}

// --- numbers that go bad --------------------------------------------------------------------

TEST_F(HostileInput, NanVoxelIsRefusedNamingTheFileAndTheVoxel) {
  std::vector<float> v(4 * 3 * 2, 1.f);
  v[(1 * 3 + 2) * 4 + 3] = std::nanf("");  // (x 3, y 2, z 1)
  const std::string p = dir_ + "/nan.nii.gz";
  data::write_nifti(p, {4, 3, 2}, {1, 1, 1}, data::NiftiDatatype::f32, v.data());
  expect_refused(refused_call([&] { data::read_nifti(p); }), "nan.nii.gz: voxel (3, 2, 1) is nan");
}

TEST_F(HostileInput, InfinityMadeByTheSlopeIsRefused) {
  std::vector<int16_t> v(4 * 4 * 4, 30000);
  const std::string plain = dir_ + "/steep.nii";
  data::write_nifti(plain, {4, 4, 4}, {1, 1, 1}, data::NiftiDatatype::i16, v.data());
  std::vector<uint8_t> bytes = read_all(plain);
  put_f32(bytes, 112, 1e38f);  // 30000 x 1e38 is no float
  write_all(plain, bytes);
  expect_refused(refused_call([&] { data::read_nifti(plain); }), "steep.nii: voxel (0, 0, 0) is inf");
}

// --- messages that name what failed ---------------------------------------------------------

// A plan whose arena is over this host's memory is refused naming the plan and its largest
// tensor; with --max_arena_gb raised past it, the mapping itself fails, also naming the plan.
TEST_F(HostileInput, ArenaTooLargeForTheHostNamesThePlan) {
  plan::Plan p = test::compile(test::kTinyModel, 2);
  p.arena_bytes = uint64_t{1} << 40;  // the validator's limit, far beyond this host
  const std::string big = dir_ + "/huge_arena.bin";
  plan::write_plan_file(p, big);
  expect_refused(run_tool(unetrun(big + " --data " + dir_ + "/data")),
                 "huge_arena.bin: the plan's arena of 1099.51 GB is over the limit");
  expect_refused(run_tool(unetrun(big + " --data " + dir_ + "/data")), "its largest tensor is '");
  std::FILE* f = std::fopen("/proc/sys/vm/overcommit_memory", "r");
  ASSERT_NE(f, nullptr);
  const int overcommit = std::fgetc(f);
  std::fclose(f);
  ASSERT_NE(overcommit, '1') << "with vm.overcommit_memory = 1 a 1 TiB mapping succeeds; this test needs 0 or 2";
  expect_refused(run_tool(unetrun(big + " --data " + dir_ + "/data --max_arena_gb 2000")),
                 "huge_arena.bin: cannot allocate the plan's arena of 1099511627776 bytes");
}

// An inference-only plan has no target or loss partials: --infer once died in
// vector::_M_range_check; it now takes the Dice from the predictions, as the training plan's
// forward does from its partials.
TEST_F(HostileInput, InferenceOnlyPlanInfersWithTheSameDice) {
  const Outcome trained = run_tool(unetrun(plan_ + " --data " + dir_ + "/data --max_steps 2"), 120);
  ASSERT_EQ(trained.status, 0) << trained.output;
  const std::string infer_plan = dir_ + "/infer.bin";
  plan::write_plan_file(test::compile(test::kTinyModel, 2, /*training=*/false), infer_plan);
  auto dice_of = [&](const std::string& plan_path, const std::string& out) {
    fs::create_directories(out);
    const Outcome o = run_tool(std::string(UNETRUN_PATH) + " " + plan_path + " --infer --num_threads 1 --channels "
                               "flair,t1ce --data " + dir_ + "/data --checkpoint " + dir_ + "/ck/latest.npz --out " +
                               out + " --log " + out + "/log");
    EXPECT_EQ(o.status, 0) << o.output;
    const size_t at = o.output.find("Test Dice Coef = ");
    EXPECT_NE(at, std::string::npos) << o.output;
    return at == std::string::npos ? -1.0 : std::stod(o.output.substr(at + 17));
  };
  const double with_partials = dice_of(plan_, dir_ + "/p_train"), from_predictions = dice_of(infer_plan, dir_ + "/p_infer");
  EXPECT_GT(with_partials, 0.0);
  EXPECT_NEAR(with_partials, from_predictions, 1.5e-3);  // printed with 3 decimals
  const data::NpyReader a = data::NpyReader::open(dir_ + "/p_train/msks_test_predictions.npy");
  const data::NpyReader b = data::NpyReader::open(dir_ + "/p_infer/msks_test_predictions.npy");
  ASSERT_EQ(a.shape(), b.shape());
}

// --- float flags are finite (CLI11's Range lets NaN through) --------------------------------

TEST_F(HostileInput, NonFiniteFloatFlagsAreRefused) {
  const std::string data = " --data " + dir_ + "/data";
  for (const char* flag : {"--learningrate nan", "--lr_fraction inf", "--save_secs nan", "--peer_timeout nan"})
    expect_refused(run_tool(unetrun(plan_ + data + " " + flag)), "is not a finite number");
  expect_refused(run_tool(std::string(UNETSYNTH_PATH) + " -o " + dir_ + "/raw --subjects 1 --noise nan"),
                 "'nan' is not a finite number");
  expect_refused(run_tool(std::string(UNETCONVERT_PATH) + " " + dir_ + " -o " + dir_ + "/slices --train_test_split nan"),
                 "'nan' is not a finite number");
  EXPECT_FALSE(fs::exists(dir_ + "/raw"));
  EXPECT_FALSE(fs::exists(dir_ + "/slices"));
}

// --- numbers that go bad on the way in --------------------------------------------------------

TEST_F(HostileInput, NanInTrainingImagesStopsNamingTheImage) {
  const std::string d = dir_ + "/nan_data";
  std::vector<float> imgs(4 * 16 * 16 * 4, 0.5f), msks(4 * 16 * 16 * 4, 0.f);
  for (size_t p = 0; p < 4 * 16 * 16; ++p) msks[p * 4] = 1.f;
  imgs[((2 * 16 + 3) * 16 + 5) * 4 + 2] = std::nanf("");  // image 2, y 3, x 5, FLAIR
  fs::create_directories(d);
  data::write_npy_f32(d + "/imgs_train.npy", {4, 16, 16, 4}, imgs.data());
  data::write_npy_f32(d + "/msks_train.npy", {4, 16, 16, 4}, msks.data());
  const Outcome o = run_tool(unetrun(plan_ + " --data " + d));
  EXPECT_TRUE(o.exited) << "crashed: " << o.output;
  EXPECT_NE(o.status, 0) << o.output;
  // The run's first line, then the error as its last.
  const std::string last = o.output.substr(o.output.rfind('\n', o.output.size() - 2) + 1);
  EXPECT_NE(last.find("imgs_train.npy: image 2 holds nan at y 3, x 5, channel 2"), std::string::npos) << o.output;
  EXPECT_FALSE(fs::exists(dir_ + "/ck/latest.npz")) << "a checkpoint was written from NaN data";
}

TEST_F(HostileInput, NanWeightInACheckpointIsNamed) {
  const plan::Plan p = test::compile(test::kTinyModel, 2);
  runtime::EngineOptions eo;
  eo.threads.num_threads = 1;
  runtime::Engine engine(p, eo);
  const plan::Param& first = p.params.front();
  // save_checkpoint itself refuses a non-finite weight, so a good checkpoint is copied member
  // by member with one element of the first weight set to infinity.
  const std::string good = runtime::save_checkpoint(dir_ + "/good_ck", p, engine.arena(), 3);
  const std::string ck = dir_ + "/bad_ck.npz";
  {
    const data::NpzReader in = data::NpzReader::open(good);
    data::NpzWriter out(ck);
    for (const std::string& key : in.keys()) {
      const data::NpyArrayView v = in.get(key);
      if (key == first.name) {
        std::vector<float> w = v.to_f32();
        w[0] = std::numeric_limits<float>::infinity();
        out.add_f32(key, v.shape(), w.data());
      } else {
        out.add(key, v.dtype(), v.shape(), v.data());
      }
    }
    out.commit();
  }
  expect_refused(run_tool(unetrun(plan_ + " --data " + dir_ + "/data --init_checkpoint " + ck)),
                 "member '" + first.name + "' holds inf at element");
}

// A learning rate of 1e30 sends the weights to infinity within steps: the run stops naming
// the step (and the weight), and every checkpoint it left loads as finite.
TEST_F(HostileInput, DivergedRunStopsBeforeANanCheckpoint) {
  const std::string d = dir_ + "/long";
  test::write_dataset(d, "train", 32, 16, 16, 1);
  test::write_dataset(d, "test", 2, 16, 16, 2);
  const Outcome o = run_tool(std::string(UNETRUN_PATH) + " " + plan_ + " --num_threads 1 --channels flair,t1ce "
                             "--data " + d + " --batch_size 2 --epochs 20 --save_secs 0 --keep_checkpoints 0 "
                             "--learningrate 1e30 --const_learningrate --checkpoint_dir " + dir_ + "/div_ck --log " +
                             dir_ + "/div.log", 120);
  EXPECT_TRUE(o.exited) << o.output;
  EXPECT_NE(o.status, 0) << o.output;
  const std::string last = o.output.substr(o.output.rfind('\n', o.output.size() - 2) + 1);
  EXPECT_NE(last.find("the run diverged"), std::string::npos) << last;
  EXPECT_NE(last.find("global step"), std::string::npos) << last;
  const plan::Plan p = test::compile(test::kTinyModel, 2);
  runtime::EngineOptions eo;
  eo.threads.num_threads = 1;
  runtime::Engine engine(p, eo);
  size_t checked = 0;
  for (const auto& e : fs::directory_iterator(dir_ + "/div_ck")) {
    if (e.path().extension() != ".npz" || e.path().filename() == "latest.npz") continue;
    EXPECT_NO_THROW(runtime::load_checkpoint(e.path().string(), p, engine.arena(), runtime::CheckpointUse::resume))
        << e.path();  // the loader refuses a non-finite weight
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace unet
