// Micro-benchmark of the quantized kernels on expert-shaped matrices: one thread runs
// dot_weight_rows (the fast-path product of weight rows with prepared Q8_K rows) over a
// whole matrix for 1, 2, 4, 8, 16 and 64 tokens, with the weights as rows and, where this
// CPU has panel kernels for the type, as panels (ops/quant/panels.h). Shapes: 64 x 2048 Q4_K and
// Q6_K rows that stay in L2 ("cached"), gate / up 768 x 2048 and down 2048 x 768 of Q4_K, Q6_K and
// Q8_0 (Qwen3-30B-A3B's experts), 65536 x 2048 Q4_K, Q6_K and Q8_0 read from memory ("stream");
// on x86 with AVX2, last, the peak rate of the byte multiply-add instructions the kernels
// are built on. Prints the fastest time of a product (the one least disturbed by other
// processes) and its rate in G multiply-adds per second. Not a test; compare builds in
// the same run.
//
//   matmul_bench [repetitions]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ops/matmul.h"
#include "ops/quant/panels.h"
#include "ops/quant/quantize.h"
#include "ops/quant/simd/quant_simd.h"
#include "platform/thread_pool.h"

namespace tandem {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

struct Shape {
  const char* name;
  TensorType type;
  size_t rows;
  size_t cols;
};

void run_tokens(const Shape& shape, const WeightMatrix& w, size_t tokens, int repetitions,
                ThreadPool& pool) {
  FloatMatrix x(tokens, shape.cols);
  for (size_t t = 0; t < tokens; ++t) {
    const std::vector<float> v = gaussian(shape.cols, static_cast<uint32_t>(100 + t));
    std::copy(v.begin(), v.end(), x.row(t).begin());
  }
  PreparedRows prepared;
  prepare_rows(shape.type, x, prepared, pool);
  std::vector<float> out(tokens * shape.rows);
  std::vector<double> seconds;
  for (int rep = 0; rep < repetitions; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    dot_weight_rows(w, 0, shape.rows, prepared.bytes.data(), prepared.stride, tokens, out.data(),
                    shape.rows);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const double best = *std::min_element(seconds.begin(), seconds.end());
  const double gmacs = static_cast<double>(tokens * shape.rows * shape.cols) / best / 1e9;
  const std::string type(type_name(shape.type));
  const char* layout = w.layout == WeightLayout::kPanels ? "panels" : "rows";
  std::printf("%-8s %-5s %-6s tokens %3zu  %9.1f us  %6.2f GMAC/s  (check %.4f)\n", shape.name,
              type.c_str(), layout, tokens, best * 1e6, gmacs, out[out.size() / 2]);
}

void run_shape(const Shape& shape, int repetitions) {
  const size_t stride = row_bytes(shape.type, shape.cols);
  std::vector<uint8_t> bytes(shape.rows * stride);
  const std::vector<float> row_values = gaussian(shape.cols * 16, 1);
  for (size_t r = 0; r < shape.rows; ++r) {
    // 16 distinct rows repeated: quantizing every row would take longer than the runs.
    const std::span<const float> values(row_values.data() + (r % 16) * shape.cols, shape.cols);
    quantize_row(shape.type, values, bytes.data() + r * stride);
  }
  std::vector<uint8_t> panel_bytes;
  std::vector<WeightMatrix> layouts = {{shape.type, shape.rows, shape.cols, stride, bytes}};
  if (has_simd_panel_dot(shape.type) && fits_panel_layout(shape.type, shape.rows, shape.cols)) {
    panel_bytes.resize(bytes.size());
    pack_panels(shape.type, shape.rows, shape.cols, bytes, panel_bytes);
    layouts.push_back(
        {shape.type, shape.rows, shape.cols, stride, panel_bytes, WeightLayout::kPanels});
  }
  ThreadPool pool(1);
  for (const WeightMatrix& w : layouts) {
    for (size_t tokens : {1, 2, 4, 8, 16, 64}) run_tokens(shape, w, tokens, repetitions, pool);
  }
}

#if defined(__x86_64__)
// The multiplier's peak for these formats: steps of vpmaddubsw + vpmaddwd + vpaddd
// (32 byte multiply-adds) in 8 independent chains on registers, in assembly so that no
// product can be reused. Returns G multiply-adds per second on this thread.
__attribute__((target("avx2"))) double byte_multiply_add_peak() {
  constexpr long kIterations = 50'000'000;  // 8 steps each
  const auto start = std::chrono::steady_clock::now();
  // clang-format off
  asm volatile(
      "vpcmpeqb %%ymm8, %%ymm8, %%ymm8\n"
      "vmovdqa %%ymm8, %%ymm9\n vmovdqa %%ymm8, %%ymm10\n vmovdqa %%ymm8, %%ymm11\n"
      "vmovdqa %%ymm8, %%ymm12\n vmovdqa %%ymm8, %%ymm13\n"
      "mov %0, %%rcx\n"
      "1:\n"
#define TANDEM_STEP(acc, w, tmp)                                                   \
  "vpmaddubsw %%ymm12, " w ", " tmp "\n vpmaddwd %%ymm13, " tmp ", " tmp "\n" \
  "vpaddd " tmp ", " acc ", " acc "\n"
      TANDEM_STEP("%%ymm0", "%%ymm8", "%%ymm14") TANDEM_STEP("%%ymm1", "%%ymm9", "%%ymm15")
      TANDEM_STEP("%%ymm2", "%%ymm10", "%%ymm14") TANDEM_STEP("%%ymm3", "%%ymm11", "%%ymm15")
      TANDEM_STEP("%%ymm4", "%%ymm8", "%%ymm14") TANDEM_STEP("%%ymm5", "%%ymm9", "%%ymm15")
      TANDEM_STEP("%%ymm6", "%%ymm10", "%%ymm14") TANDEM_STEP("%%ymm7", "%%ymm11", "%%ymm15")
#undef TANDEM_STEP
      "dec %%rcx\n jnz 1b\n vzeroupper\n"
      :
      : "r"(kIterations)
      : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
  // clang-format on
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(kIterations) * 8 * 32 / seconds / 1e9;
}
#endif

}  // namespace
}  // namespace tandem

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  using tandem::TensorType;
  // "cached": 64 rows (72-105 KiB) that stay in L2 between repetitions, the kernels'
  // compute rate without the memory stream; "stream": 72-136 MiB (beyond a 32 MiB L3), read from
  // memory each time (with one token, the rate of decode's stream on one core; Q6_K: the output
  // matrix).
  const tandem::Shape shapes[] = {
      {"cached", TensorType::kQ4_K, 64, 2048},    {"cached", TensorType::kQ6_K, 64, 2048},
      {"gate/up", TensorType::kQ4_K, 768, 2048},  {"down", TensorType::kQ4_K, 2048, 768},
      {"down", TensorType::kQ6_K, 2048, 768},     {"gate/up", TensorType::kQ8_0, 768, 2048},
      {"down", TensorType::kQ8_0, 2048, 768},     {"stream", TensorType::kQ4_K, 65536, 2048},
      {"stream", TensorType::kQ6_K, 65536, 2048}, {"stream", TensorType::kQ8_0, 65536, 2048}};
  for (const auto& shape : shapes) tandem::run_shape(shape, repetitions);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) {
    std::printf("peak of vpmaddubsw + vpmaddwd + vpaddd chains: %.1f G multiply-adds/s\n",
                tandem::byte_multiply_add_peak());
  }
#endif
  return 0;
}
