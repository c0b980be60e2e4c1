#!/usr/bin/env bash
# Installs the Debian 12 packages tandem builds and tests with. Run as root (or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  clang-14 libclang-rt-14-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libhwy-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libspdlog-dev \
  libpcre2-dev libucx-dev libssl-dev \
  python3 curl iproute2 >/dev/null
# Node.js and npm run the API tests with the official openai client. Machines that already
# have them (e.g. from NodeSource) keep theirs: Debian's npm package conflicts with those.
if ! command -v npm >/dev/null; then
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
