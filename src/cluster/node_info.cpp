#include "cluster/node_info.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "platform/error.h"

namespace tandem::cluster {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0 from xgetbv: which register states the OS saves on context switches.
uint64_t read_xcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

}  // namespace

MemoryInfo parse_meminfo(const std::string& text) {
  MemoryInfo info;
  bool have_total = false;
  bool have_available = false;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kilobytes = 0;
    if (!(fields >> key >> kilobytes)) continue;
    if (key == "MemTotal:") {
      info.total_bytes = kilobytes * 1024;
      have_total = true;
    } else if (key == "MemAvailable:") {
      info.available_bytes = kilobytes * 1024;
      have_available = true;
    }
  }
  if (!have_total || !have_available) {
    throw Error("/proc/meminfo: MemTotal or MemAvailable missing");
  }
  return info;
}

MemoryInfo read_memory_info() {
  std::ifstream file("/proc/meminfo");
  if (!file) throw Error("cannot read /proc/meminfo");
  std::stringstream text;
  text << file.rdbuf();
  return parse_meminfo(text.str());
}

std::string detect_simd_level() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return "none";
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;
  const bool avx = (ecx & bit_AVX) != 0 && (ecx & bit_FMA) != 0;
  if (!osxsave || !avx) return (edx & bit_SSE2) ? "sse2" : "none";
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;
  const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;
  if (!ymm_saved) return "sse4";
  __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx);
  const bool avx2 = (ebx & bit_AVX2) != 0;
  const bool avx512 =
      zmm_saved && (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512VL);
  const bool avx512_vnni = avx512 && (ecx & bit_AVX512VNNI);
  unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
  __get_cpuid_count(7, 1, &eax1, &ebx1, &ecx1, &edx1);
  const bool avx_vnni = (eax1 & (1u << 4)) != 0;  // AVX-VNNI (VEX-encoded)
  if (avx512) return avx512_vnni ? "avx512+vnni" : "avx512";
  if (avx2) return avx_vnni ? "avx2+vnni" : "avx2";
  return "avx";
#elif defined(__aarch64__)
  const unsigned long caps = getauxval(AT_HWCAP);
  const bool neon = (caps & HWCAP_ASIMD) != 0;
  const bool dotprod = (caps & HWCAP_ASIMDDP) != 0;
  if (!neon) return "none";
  return dotprod ? "neon+dotprod" : "neon";
#else
  return "none";
#endif
}

double measure_matmul_gflops(std::chrono::milliseconds budget) {
  constexpr size_t kN = 96;
  // a, b, c: (kN, kN) row-major.
  std::vector<float> a(kN * kN), b(kN * kN), c(kN * kN);
  for (size_t i = 0; i < kN * kN; ++i) {
    a[i] = static_cast<float>(i % 7) * 0.25f;
    b[i] = static_cast<float>(i % 5) * 0.5f;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + budget;
  uint64_t repetitions = 0;
  float sink = 0;
  do {
    std::fill(c.begin(), c.end(), 0.0f);
    for (size_t i = 0; i < kN; ++i) {
      for (size_t k = 0; k < kN; ++k) {
        const float aik = a[i * kN + k];
        for (size_t j = 0; j < kN; ++j) c[i * kN + j] += aik * b[k * kN + j];
      }
    }
    sink += c[repetitions % (kN * kN)];
    ++repetitions;
  } while (std::chrono::steady_clock::now() < stop);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Keeps the loop from being optimised away: the result feeds a volatile store.
  volatile float keep = sink;
  (void)keep;
  return 2.0 * kN * kN * kN * static_cast<double>(repetitions) / seconds / 1e9;
}

std::vector<std::string> list_rdma_devices(const std::string& sys_dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(sys_dir, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

DiskSpace disk_space(const std::string& path) {
  std::filesystem::path probe = path.empty() ? "." : path;
  std::error_code error;
  while (!std::filesystem::exists(probe, error) && probe.has_parent_path() &&
         probe.parent_path() != probe) {
    probe = probe.parent_path();
  }
  struct statvfs stats {};
  if (::statvfs(probe.c_str(), &stats) != 0) return {};
  return {static_cast<uint64_t>(stats.f_bavail) * stats.f_frsize,
          static_cast<uint64_t>(stats.f_blocks) * stats.f_frsize};
}

int64_t unix_time_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

NodeInfo collect_node_info(const NodeIdentity& identity, double matmul_gflops) {
  NodeInfo info;
  info.node_id = identity.node_id;
  info.name = identity.name;
  info.tandem_version = identity.tandem_version;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0) info.hostname = host;
  info.listen_address = identity.listen_address;
  const MemoryInfo memory = read_memory_info();
  info.memory_total_bytes = memory.total_bytes;
  info.memory_available_bytes = memory.available_bytes;
  info.cores = std::max(1u, std::thread::hardware_concurrency());
  info.simd = detect_simd_level();
  info.matmul_gflops = matmul_gflops;
  info.cache_dir = identity.cache_dir;
  const DiskSpace disk = disk_space(identity.cache_dir);
  info.disk_free_bytes = disk.free_bytes;
  info.disk_total_bytes = disk.total_bytes;
  info.rdma_devices = list_rdma_devices();
  info.clock_unix_ns = unix_time_ns();
  return info;
}

}  // namespace tandem::cluster
