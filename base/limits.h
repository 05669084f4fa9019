// Every bound on a size, count or length that comes from outside the program (a file, a
// network frame, a flag) and sizes an allocation or a loop, in one place. A reader checks its
// bound before it allocates, and refuses with an error naming the file (or peer, or flag),
// the value and the limit. Each value is far above what a real input needs and far below
// what would exhaust memory or overflow a later size computation. docs/limits.md lists them
// with the reader that checks each and the error a user sees.
//
// base/ is a leaf room: this header includes only <cstddef>/<cstdint>, and every room
// (kernels/ and data/ and net/ included) may include it.
//
// Not a constant here: the largest arena unetrun maps (runtime/engine.cpp), which defaults to
// this host's physical memory and is raised or lowered with `unetrun --max_arena_gb`.
#pragma once
#include <cstddef>
#include <cstdint>

namespace unet::limits {

// ---- data/: npy, npz, NIfTI, BraTS slices, the synthetic phantom -----------------------------

// Uncompressed size a deflated npz member may claim (npz_reader.cpp): a checkpoint array is
// tens of MB; 16 GiB is far above that, below what a hostile directory could make us allocate.
inline constexpr uint64_t kMaxNpzMemberBytes = uint64_t{16} << 30;
// First buffer an npz member inflates into (npz_reader.cpp); it doubles as inflate fills it,
// so a member claiming gigabytes whose stream ends early costs about this much.
inline constexpr uint64_t kNpzFirstInflateBytes = uint64_t{1} << 20;
// Uncompressed : deflated ratio an npz member may claim (npz_reader.cpp): deflate expands at
// most ~1032:1, so a larger claim is a corrupt or hostile directory.
inline constexpr uint64_t kMaxNpzDeflateRatio = 1032;
// Dimensions of an npy shape tuple (npy_header.cpp): numpy's own NPY_MAXDIMS is 64.
inline constexpr size_t kMaxNpyRank = 64;
// Bytes of a NIfTI file read to parse its header alone (nifti_reader.cpp): a gzip stream holds
// the 348-byte header within its first few hundred bytes; 64 KiB is ample.
inline constexpr size_t kNiftiHeaderReadBytes = size_t{1} << 16;
// Largest NIfTI vox_offset accepted (nifti_reader.cpp, a float field): keeps the size_t
// conversion exact; the offset is then also checked against the file's size.
inline constexpr float kMaxNiftiVoxOffset = 1e12f;
// Decompressed : compressed ratio (plus slack) a .nii.gz may be assumed to hold when its header
// claims voxels (nifti_reader.cpp): deflate expands at most ~1032:1, so a header claiming more
// than this is refused before the volume is allocated.
inline constexpr size_t kMaxNiftiGzipRatio = 1100;
inline constexpr size_t kNiftiGzipSlackBytes = 4096;
// One subject's normalised slices held at once (brats_slices.cpp): BraTS's 155 slices of
// 128x128 take 43 MB; 4 GiB is far above that, yet below what a hostile header could claim.
inline constexpr uint64_t kMaxSubjectSliceBytes = uint64_t{4} << 30;
// Side of an output slice, unetconvert --size / --resize (brats_slices.cpp, the tool's flag):
// BraTS slices are 240x240; 4096 keeps one subject's stack far from kMaxSubjectSliceBytes' reach.
inline constexpr int kMaxSliceSize = 4096;
// Voxels along each axis of a synthetic volume, unetsynth --shape (synth_subject.cpp): below 8
// the phantom's compartments vanish; above 1024 one subject's volumes take gigabytes.
inline constexpr int kMinSynthAxis = 8;
inline constexpr int kMaxSynthAxis = 1024;
// Subjects one unetsynth run writes (--subjects): a typo must not fill the disk.
inline constexpr int kMaxSynthSubjects = 100000;
// Subjects converted or rendered at once, unetconvert / unetsynth --jobs: each job holds a
// subject's volumes and slices (hundreds of MB), so more than this only exhausts memory.
inline constexpr int kMaxJobs = 1024;

// Size of a manifest.json (brats_manifest.cpp), read whole into memory: unetconvert writes
// ~100 bytes a subject, so a million subjects fit in far less.
inline constexpr uint64_t kMaxManifestBytes = uint64_t{1} << 30;
// Nesting of arrays and objects in a JSON file (json_value.cpp: the parser recurses; a
// manifest nests 4 deep).
inline constexpr int kMaxJsonDepth = 64;

// ---- plan/: plan.bin --------------------------------------------------------------------------

// Size of a plan.bin file (plan_io.cpp), refused before it is read into memory: the seed's
// UNet plan is a few hundred KB.
inline constexpr uint64_t kMaxPlanFileBytes = uint64_t{256} << 20;
// Length of one string in a plan (plan_io.cpp): names and kernel ids are tens of bytes.
inline constexpr uint32_t kMaxPlanStringBytes = 4096;
// Elements of one list in a plan (plan_io.cpp; also checked against the bytes left): a plan
// has hundreds of tensors and ops.
inline constexpr uint32_t kMaxPlanListCount = 1u << 20;
// Any single dimension in a plan: n, c, h, w, kernel sizes, strides, windows
// (plan_validate.cpp): with arena offsets below 2^40, the validator's size products stay in 64 bits.
inline constexpr uint32_t kMaxPlanDim = 1u << 20;
// Arena a plan may ask for (plan_validate.cpp): 1 TiB; anything bigger is a corrupt number.
// What a host actually maps is bounded again by unetrun --max_arena_gb.
inline constexpr uint64_t kMaxPlanArenaBytes = uint64_t{1} << 40;

// ---- graph/: model.def and the compiler -------------------------------------------------------

// Size of a model.def file (model_loader.cpp): the shipped UNet is a few KB.
inline constexpr uint64_t kMaxModelFileBytes = uint64_t{16} << 20;
// Channels of an input shape or a conv's filters in model.def (parser.cpp).
inline constexpr int kMaxModelChannels = 65536;
// Height and width of the input shape in model.def (parser.cpp).
inline constexpr int kMaxModelExtent = 65536;
// Kernel sides, strides, pool sizes and upsampling factors in model.def (parser.cpp).
inline constexpr int kMaxModelWindow = 64;
// Per-image extent (channels, height, width) any node's shape may reach after inference
// (shape_inference.cpp): keeps every size in int range.
inline constexpr int kMaxNodeExtent = 1 << 20;
// Micro-batch a plan is compiled for, unetc --batch: the seed trains batches of 128.
inline constexpr uint32_t kMaxCompileBatch = 1u << 16;

// ---- net/: frames and the handshake -----------------------------------------------------------

// Payload of any one frame, whatever a caller's own bound (connection.h/.cpp): the largest
// UNet tensor is tens of MB; 1 GiB also keeps zlib-style 32-bit counts safe.
inline constexpr uint64_t kMaxFramePayloadBytes = uint64_t{1} << 30;
// Reason text of a refuse or abort frame (net/handshake.cpp, runtime/ps_wire.h): one line.
inline constexpr size_t kMaxReasonBytes = 4096;
// Application bytes a welcome frame carries after its proof (net/handshake.cpp): the PS sends 8.
inline constexpr size_t kMaxHandshakeAppBytes = size_t{64} << 10;
// Size of the cluster token file (net/handshake.cpp): a token is 32-64 hex characters.
inline constexpr size_t kMaxTokenBytes = 4096;

// ---- runtime/: data sets, cluster files, threads ----------------------------------------------

// Channels of imgs_*.npy (dataset.cpp): the four BraTS modalities t1, t2, flair, t1ce.
inline constexpr size_t kMaxImageChannels = 4;
// Hosts one cluster file may name, host ranges such as n[01-64] expanded (cluster_file.cpp): a
// typo such as n[0-99999999] must not exhaust memory.
inline constexpr size_t kMaxClusterNodes = 65536;
// `threads` of a node in a cluster file (cluster_file.cpp).
inline constexpr int kMaxClusterThreads = 65536;
// `ps_tasks` of a node in a cluster file (cluster_file.cpp): parameter-server shards on one host.
inline constexpr int kMaxClusterPsTasks = 1024;
// Global steps one --trace window may hold (trace_writer.cpp): the recorder keeps every op's
// events in memory until the window ends (~150 events, ~35 KB of JSON a step of the UNet);
// a timeline is read for a few steps.
inline constexpr uint64_t kMaxTraceSteps = 1000;
// Compute threads per core, unetrun / unetbench --num_threads (thread_pool.cpp): more only
// oversubscribe; far more crashed TBB's arena (2^31 - 1) or took gigabytes of stacks (10^6).
inline constexpr int kMaxThreadsPerCore = 4;
// Size of a tune.json (runtime/tune_file.cpp), read whole into memory: unetbench tune writes
// about 700 bytes an op, ~50 KB for the seed's UNet; 64 MiB is far above any model's.
inline constexpr uint64_t kMaxTuneFileBytes = uint64_t{64} << 20;

}  // namespace unet::limits
