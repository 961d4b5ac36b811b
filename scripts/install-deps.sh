#!/usr/bin/env bash
# Installs the Debian 12 packages ithappens builds and tests with (DESIGN.md, "Dependencies").
# Idempotent: packages already present are skipped, so running it twice is cheap and safe.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev sqlite3
  libfiu-dev fiu-utils
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest
  librapidcheck-dev
  libbenchmark-dev
  nlohmann-json3-dev
  libyaml-cpp-dev
  libcli11-dev
  libfuse3-dev fuse3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
