#!/usr/bin/env bash
# The ARM64 suite (not part of scripts/test.sh): cross-builds tandem for aarch64 Linux into
# build-arm64/ with Debian's cross compiler and arm64 libraries, then runs the tests that
# need no second process under qemu-aarch64 on two CPU models: one with the dot-product
# instructions (the sdot panel kernels, ops/quant/simd/panels_dotprod.cpp) and one without
# (Highway's NEON kernels). Installs what it needs when run as root (apt-get, multiarch).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

packages=(g++-aarch64-linux-gnu qemu-user-static libhwy-dev:arm64 libgtest-dev:arm64
  libgmock-dev:arm64 libssl-dev:arm64 libcpp-httplib-dev:arm64 libucx-dev:arm64)
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture arm64
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DTANDEM_WERROR=ON \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake >/dev/null
ninja -C build-arm64 -j "$jobs" tandem tandem_tests

# Suites that run in the test process (the others start tandem or helper processes, which
# qemu-user cannot exec without binfmt_misc), less the three tests that run the binary.
suites=(
  'Quant*' 'Ops*' 'DeltaNet*' 'GatedDeltaRule.*' 'Imrope.*' 'RecurrentState.*' 'MoeFast.*'
  'ModelConfigTest.*' 'ModelLoadTest.*' 'ModelFile.*' 'ModelFileMemory.*' 'ModelHash.*'
  'KvCacheTest.*' 'EngineCore.*' 'LocalRunnerTest.*' 'StageCompute.*' '*Qwen3*ModelTest*'
  'Sampler.*' 'Scheduler.*' 'Tokenizer*' 'BuiltinVocabulary.*' 'ChatTemplate.*' 'Jinja*'
  'GgufFile.*' 'GgufWriterTest.*' 'Synth*' 'Qwen35MoeConfig.*' 'Placement.*'
  'ThreadPoolSlots.*' 'ClusterWire.*' 'StageWire.*' 'FrameAuth*' 'ClusterAuth.*'
  'Bandwidth.*' 'StopMatcher.*' 'SseParser.*' 'OpenAi*' 'OutputParser.*' 'CompletionService.*'
)
filter=$(IFS=:; echo "${suites[*]}")
filter+="-LogitsCommandTest.*:SynthTest.Qwen35_122bPresetWithoutWeights"
filter+=":TokenizerGolden.TokenizeCommandPrintsIds"

# cortex-a57: Armv8.0 NEON, no dot product; max: every extension qemu has, dotprod among them.
for cpu in max cortex-a57; do
  echo "ARM64 tests on qemu -cpu $cpu"
  (cd build-arm64 && qemu-aarch64-static -cpu "$cpu" ./tandem_tests --gtest_brief=1 \
    --gtest_filter="$filter")
done
