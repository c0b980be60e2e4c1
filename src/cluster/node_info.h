#pragma once
// What a node says about itself: identity, memory, cores, SIMD level, a measured
// matmul speed, disk, RDMA devices and its clock. Plain data, sent as a NodeInfo
// message (see wire.h); gathered from /proc, /sys, cpuid/auxv and statvfs.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::cluster {

struct NodeInfo {
  std::string node_id;  // unique per process: name + random suffix
  std::string name;     // --name, default the host name
  std::string tandem_version;
  std::string hostname;
  std::string listen_address;  // HOST:PORT peers connect to
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;  // /proc/meminfo MemAvailable
  uint32_t cores = 0;
  std::string simd;          // e.g. "avx512+vnni", "avx2", "neon+dotprod", "none"
  double matmul_gflops = 0;  // F32 matmul, one core, measured at start-up
  std::string cache_dir;
  uint64_t disk_free_bytes = 0;  // free for unprivileged users in cache_dir
  uint64_t disk_total_bytes = 0;
  std::vector<std::string> rdma_devices;  // names under /sys/class/infiniband
  int64_t clock_unix_ns = 0;              // wall clock when the info was sent (for skew)

  bool operator==(const NodeInfo&) const = default;
};

struct MemoryInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};

// Parses the text of /proc/meminfo (MemTotal, MemAvailable in kB). Throws Error when
// either line is missing.
MemoryInfo parse_meminfo(const std::string& text);
MemoryInfo read_memory_info();

// The widest SIMD extension set this CPU and OS support, as a short text.
std::string detect_simd_level();

// Single-core F32 matmul speed: repeats a plain 96x96 matmul (the baseline build's
// vector width, not the run-time SIMD kernels) until `budget` is spent.
double measure_matmul_gflops(std::chrono::milliseconds budget);

// Names of the entries under `sys_dir` (normally /sys/class/infiniband); empty if absent.
std::vector<std::string> list_rdma_devices(const std::string& sys_dir = "/sys/class/infiniband");

struct DiskSpace {
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;
};
// Space of the file system holding `path` (or its nearest existing parent).
DiskSpace disk_space(const std::string& path);

int64_t unix_time_ns();

// Everything above for this machine; `matmul_gflops` is passed in because it is
// measured once per process, not on every request.
struct NodeIdentity {
  std::string node_id;
  std::string name;
  std::string tandem_version;
  std::string listen_address;
  std::string cache_dir;
};
NodeInfo collect_node_info(const NodeIdentity& identity, double matmul_gflops);

}  // namespace tandem::cluster
