#!/usr/bin/env bash
# scripts/gpu/bundle.sh: pack what a GPU machine needs to build and run gtl
# there, into .gpu-bundle/ (git-ignored): the gtl binary (finds its wrapper
# library in lib/ beside it), a static stubops, gotch's patched wrapper
# sources, gtl's C++, and the scripts (with the PyTorch reference benchmark). The GPU machine needs no Go and no
# network: scripts/gpu/run.sh builds the wrapper against its own libtorch.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$root/.gpu-bundle"
cd "$root"
bash scripts/setup.sh
rm -rf "$out"
mkdir -p "$out/bin" "$out/scripts/gpu" "$out/scripts/bench" "$out/lib"
# $ORIGIN/../lib: the binary looks for libgtltorch.so in the bundle's lib/.
go build -ldflags '-extldflags "-Wl,-rpath,$ORIGIN/../lib"' -o "$out/bin/gtl" ./cmd/gtl
CGO_ENABLED=0 go build -o "$out/bin/stubops" ./scripts/stubops
cp -r .build/csrc "$out/wrapper-src"
cp -r csrc "$out/csrc"
cp scripts/build-wrapper.sh "$out/scripts/"
cp scripts/gpu/run.sh "$out/scripts/gpu/"
cp scripts/bench/pytorch_ref.py scripts/bench/table.py "$out/scripts/bench/"
echo "bundle: $out ($(du -sh "$out" | cut -f1))" >&2
