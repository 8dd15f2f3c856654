#!/usr/bin/env bash
# Build llama.cpp's llama-server (CPU only) from the sources shipped in
# llama-cpp-python's sdist on PyPI, into .ci/cache/llama.cpp/bin/llama-server.
# Idempotent: an existing binary is kept. Used by .ci/run (in the background,
# while the rest is installed) and by anyone who wants the behaviour stage to
# run locally: LLAMA_SERVER_BIN=.ci/cache/llama.cpp/bin/llama-server.
# Takes about 10 minutes on two cores (no CUDA, no BLAS, no curl).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
CACHE=.ci/cache
OUT=$CACHE/llama.cpp/bin/llama-server
if [ -x "$OUT" ]; then
  echo "llama-server already built: $OUT"
  exit 0
fi
mkdir -p "$CACHE/src"
if [ ! -f "$CACHE/src/llama_cpp_python-$VERSION.tar.gz" ]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$CACHE/src"
fi
rm -rf "$CACHE/src/llama_cpp_python-$VERSION"
tar -xzf "$CACHE/src/llama_cpp_python-$VERSION.tar.gz" -C "$CACHE/src"
SRC=$CACHE/src/llama_cpp_python-$VERSION/vendor/llama.cpp
start=$(date +%s)
# The compiler's output (thousands of warnings) goes to a log; only a failure shows its tail.
LOG=$CACHE/llama-compile.log
if ! { cmake -S "$SRC" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
         -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_CUDA=OFF -DGGML_BLAS=OFF -DGGML_NATIVE=ON \
         -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
       && cmake --build "$CACHE/build" --target llama-server -j "$(nproc)"; } > "$LOG" 2>&1; then
  tail -30 "$LOG"
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
cp "$CACHE/build/bin/llama-server" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
rm -rf "$CACHE/build" "$CACHE/src/llama_cpp_python-$VERSION"
echo "llama-server built in $(( $(date +%s) - start )) s: $OUT"
