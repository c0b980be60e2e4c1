#!/usr/bin/env bash
# The default test suite: build with warnings as errors, run every fuzz target for a
# short time under ASan/UBSan, then run every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_WERROR=ON >/dev/null
ninja -C build -j "$jobs"

if command -v clang++-14 >/dev/null; then
  # Every fuzz/*_fuzz.cpp target runs for TANDEM_FUZZ_SECONDS under ASan/UBSan, seeded
  # from ../shared/reference where a seed fits.
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++-14 \
    -DTANDEM_FUZZ=ON -DTANDEM_SANITIZE=ON -DTANDEM_TESTS=OFF >/dev/null
  if [ -f ../shared/reference/tokenizer-tiny4096.gguf ]; then
    export TANDEM_TOKENIZER_GGUF=../shared/reference/tokenizer-tiny4096.gguf
  else
    echo "../shared/reference is absent: tokenizer_fuzz skips every input"
  fi
  for source in fuzz/*_fuzz.cpp; do
    name=$(basename "$source" .cpp)
    ninja -C build-fuzz -j "$jobs" "$name"
    corpus=build-fuzz/corpus-$name
    mkdir -p "$corpus"
    case "$name" in
      gguf_fuzz) cp ../shared/reference/tokenizer-tiny4096.gguf "$corpus/" 2>/dev/null || true ;;
      jinja_fuzz) cp ../shared/reference/qwen3_chat_template.jinja "$corpus/" 2>/dev/null || true ;;
    esac
    echo "fuzzing $name for ${TANDEM_FUZZ_SECONDS:-30} s"
    "build-fuzz/$name" -max_total_time="${TANDEM_FUZZ_SECONDS:-30}" -max_len=65600 \
      -rss_limit_mb=2048 -timeout=10 "$corpus" 2>&1 | tail -n 2
  done
fi

(cd build && ctest --output-on-failure -j "$jobs" --timeout 600)

# The HTTP API through the official OpenAI client (tests/api, node:test).
if command -v node >/dev/null && command -v npm >/dev/null; then
  [ -d tests/api/node_modules ] || npm ci --prefix tests/api --no-audit --no-fund >/dev/null
  (cd tests/api && node --test)
else
  echo "node / npm not installed: skipping the OpenAI client tests in tests/api"
fi
