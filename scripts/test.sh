#!/usr/bin/env bash
# The default test suite: build with warnings as errors, run every test, then run the
# GGUF parser, cluster wire reader and Jinja engine fuzzers for a short time under ASan/UBSan. Long suites live in
# scripts/test-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_WERROR=ON >/dev/null
ninja -C build -j "$jobs"

if command -v clang++-14 >/dev/null; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++-14 \
    -DTANDEM_FUZZ=ON -DTANDEM_SANITIZE=ON -DTANDEM_TESTS=OFF >/dev/null
  ninja -C build-fuzz -j "$jobs" gguf_fuzz wire_fuzz
  mkdir -p build-fuzz/corpus
  cp ../shared/reference/tokenizer-tiny4096.gguf build-fuzz/corpus/ 2>/dev/null || true
  echo "fuzzing the GGUF parser for ${TANDEM_FUZZ_SECONDS:-60} s"
  build-fuzz/gguf_fuzz -max_total_time="${TANDEM_FUZZ_SECONDS:-60}" -max_len=65536 \
    -rss_limit_mb=2048 build-fuzz/corpus 2>&1 | tail -n 3
  mkdir -p build-fuzz/wire-corpus
  echo "fuzzing the cluster wire reader for ${TANDEM_FUZZ_SECONDS:-60} s"
  build-fuzz/wire_fuzz -max_total_time="${TANDEM_FUZZ_SECONDS:-60}" -max_len=65600 \
    -rss_limit_mb=2048 build-fuzz/wire-corpus 2>&1 | tail -n 3
  ninja -C build-fuzz -j "$jobs" jinja_fuzz
  mkdir -p build-fuzz/jinja-corpus
  cp ../shared/reference/qwen3_chat_template.jinja build-fuzz/jinja-corpus/ 2>/dev/null || true
  echo "fuzzing the Jinja engine for ${TANDEM_FUZZ_SECONDS:-60} s"
  build-fuzz/jinja_fuzz -max_total_time="${TANDEM_FUZZ_SECONDS:-60}" -max_len=8192 \
    -rss_limit_mb=2048 -timeout=10 build-fuzz/jinja-corpus 2>&1 | tail -n 3
fi

(cd build && ctest --output-on-failure -j "$jobs" --timeout 600)

# The HTTP API through the official OpenAI client (tests/api, node:test).
if command -v node >/dev/null && command -v npm >/dev/null; then
  [ -d tests/api/node_modules ] || npm ci --prefix tests/api --no-audit --no-fund >/dev/null
  (cd tests/api && node --test)
else
  echo "node / npm not installed: skipping the OpenAI client tests in tests/api"
fi
