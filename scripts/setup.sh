#!/usr/bin/env bash
# scripts/setup.sh: prepare everything gtl needs to build on this machine.
#
#   1. installs missing Debian packages (libtorch-dev and libgloo-dev unless LIBTORCH is set,
#      dataset-fashion-mnist, the C++ toolchain; the pinned fonts of gtl
#      glyphs, best effort);
#   2. copies gotch from the Go module proxy into .build/gotch (git-ignored;
#      go.mod requires the published gotch, and go.work's replace points gtl's
#      own build here, unseen by modules that depend on gtl) and patches it so
#      that its Go package links a prebuilt wrapper library instead of
#      compiling C++;
#   3. runs scripts/build-wrapper.sh, which builds gotch's C++ wrapper plus
#      gtl's own C++ (csrc/) once, as .build/lib/libgtltorch.so, against the
#      detected libtorch. Generated ops that this libtorch cannot compile are
#      found from the compiler's errors and replaced by stubs that raise an
#      error (scripts/stubops).
#
# Idempotent: when nothing that goes into the build changed, it only checks
# and exits. Environment:
#   LIBTORCH=/path   libtorch to build against: a folder with include/ and lib/
#                    (an unpacked libtorch zip, or a PyTorch wheel's torch/
#                    folder; CUDA libraries there are linked when present).
#                    Default: Debian's libtorch-dev in /usr.
#   GTL_SKIP_APT=1   never call apt-get (fail with the command to run instead).
#   CXX              C++ compiler (default g++).
set -euo pipefail

GOTCH_MODULE=github.com/sugarme/gotch
GOTCH_VERSION=v0.9.1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/.build"
CXX=${CXX:-g++}

die() { echo "setup: error: $*" >&2; exit 1; }
say() { echo "setup: $*" >&2; }

# ---------------------------------------------------------------- packages --
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

pkgs=(dataset-fashion-mnist g++ make patch libjpeg62-turbo-dev)
# libgloo-dev: gloo's headers, which c10d's ProcessGroupGloo.hpp includes (distributed
# training; without them gtl builds but reports distributed as unavailable).
[ -n "${LIBTORCH:-}" ] || pkgs+=(libtorch-dev libgloo-dev)
missing=()
if command -v dpkg-query >/dev/null; then
	for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
fi
if ((${#missing[@]})); then
	fix="apt-get install -y --no-install-recommends ${missing[*]}"
	if [ "${GTL_SKIP_APT:-}" = 1 ]; then
		die "missing Debian packages: ${missing[*]}; install them with: sudo $fix"
	fi
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	[ -z "$sudo" ] || command -v sudo >/dev/null || die "missing Debian packages: ${missing[*]}; run as root: $fix"
	say "installing ${missing[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >"$root/.apt.log" 2>&1; then
		$sudo apt-get update -q >>"$root/.apt.log" 2>&1 || true
		$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$root/.apt.log" 2>&1 ||
			die "apt-get could not install ${missing[*]} (log: $root/.apt.log); try: sudo apt-get update && sudo $fix"
	fi
	rm -f "$root/.apt.log"
fi

# The pinned fonts of `gtl glyphs` (vision/datasets/glyphs/pinned.go: 79
# files, each with its SHA-256, from these Debian 12 packages; a test keeps
# the two lists equal). gtl glyphs refuses to draw without every one of them
# (--fonts all draws from whatever is installed), so that the demo's data
# sets depend on nothing else on the machine. Best effort here: a font
# package apt cannot install is a warning, never a failed setup.
FONT_PACKAGES=(fonts-dejavu-core fonts-dejavu-extra fonts-freefont-ttf fonts-liberation2 fonts-urw-base35)
fonts=()
if command -v dpkg-query >/dev/null; then
	for p in "${FONT_PACKAGES[@]}"; do installed "$p" || fonts+=("$p"); done
fi
if ((${#fonts[@]})); then
	fix="apt-get install -y --no-install-recommends ${fonts[*]}"
	if [ "${GTL_SKIP_APT:-}" = 1 ] || { [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; }; then
		say "warning: the pinned fonts of gtl glyphs are missing (${fonts[*]}): it refuses to draw without them; to install: sudo $fix"
	else
		sudo=""
		[ "$(id -u)" = 0 ] || sudo="sudo"
		say "installing ${fonts[*]} (apt-get, for gtl glyphs)"
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${fonts[@]}" >/dev/null 2>&1 ||
			say "warning: apt-get could not install ${fonts[*]}; gtl glyphs refuses to draw without them (--fonts all uses the fonts there are); try: sudo $fix"
	fi
fi
command -v "$CXX" >/dev/null || die "no C++ compiler ($CXX); install g++: sudo apt-get install g++"
command -v go >/dev/null || die "no Go toolchain on PATH; install Go 1.26 from go.dev/dl"

# ------------------------------------------------------------------- gotch --
# prepare_gotch copies gotch from the module cache into .build/gotch and
# patches it: its C++ moves to .build/csrc (built by build-wrapper.sh), its Go
# package links the prebuilt library. The module cache is never touched.
prepare_gotch() {
	local src tmp csrc
	# GOWORK=off: go.work's replace names the copy this function makes.
	src=$(cd "$root" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$GOTCH_MODULE@$GOTCH_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$src" ] || die "could not download $GOTCH_MODULE@$GOTCH_VERSION from the Go module proxy (GOPROXY=$(go env GOPROXY))"
	say "preparing gotch $GOTCH_VERSION from $src"
	tmp="$build/gotch"
	csrc="$build/csrc"
	rm -rf "$tmp" "$csrc"
	mkdir -p "$build" "$csrc"
	cp -r "$src" "$tmp"
	chmod -R u+w "$tmp"
	rm -rf "$tmp/example" "$tmp/gen" # not built; keeps go vet and go list quiet
	# The C++ leaves the Go package, so cgo no longer compiles it on every build.
	mv "$tmp"/libtch/torch_api.cpp "$tmp"/libtch/torch_api_generated.cpp.h "$tmp"/libtch/stb_image*.h "$csrc"/
	cp "$tmp"/libtch/torch_api.h "$tmp"/libtch/torch_api_generated.h "$csrc"/
	# torch_api.h defines the thread-local error slot; in a shared library
	# exactly one translation unit must own it.
	sed -i 's/^thread_local char \*torch_last_err = nullptr;/extern thread_local char *torch_last_err;/' "$csrc/torch_api.h"
	grep -q '^extern thread_local char \*torch_last_err;' "$csrc/torch_api.h" ||
		die "unexpected $GOTCH_MODULE torch_api.h: no torch_last_err definition to patch"
	sed -i 's/^using namespace std;$/using namespace std;\nthread_local char *torch_last_err = nullptr;/' "$csrc/torch_api.cpp"
	cat >"$tmp/libtch/lib.go" <<-'GO'
		package libtch

		// Patched by gtl's scripts/setup.sh: the C++ wrapper is prebuilt as
		// libgtltorch.so (in .build/lib) and found through an rpath, so go build
		// compiles no C++ and links no libtorch or CUDA library directly.

		// #cgo CFLAGS: -I${SRCDIR}
		// #cgo LDFLAGS: -L${SRCDIR}/../../lib -lgtltorch -Wl,-rpath,${SRCDIR}/../../lib
		import "C"
	GO
	gofmt -w "$tmp/libtch/lib.go" 2>/dev/null || true
	# Per-op overhead (scripts/gotch-overhead.patch): upstream gives every
	# tensor a 100 KB Go-side dummy and a unique name in a global map under a
	# lock, ~50 µs per op. A patch that no longer applies stops setup.
	patch -d "$tmp" -p1 --forward --batch --no-backup-if-mismatch --quiet <"$root/scripts/gotch-overhead.patch" ||
		die "scripts/gotch-overhead.patch does not apply to $GOTCH_MODULE@$GOTCH_VERSION; update the patch for this version"
	# Output buffers (issue 13): every generated op takes the C handles of
	# its results through a buffer from C.malloc(0) that it never frees (a
	# 32-byte glibc chunk per op call; the libtorch wrapper writes up to 7
	# handles, 56 bytes, into it). gtl compare's linear probes grew the
	# main heap ~0.8 MiB per run (+3.4% RSS per 10 runs under GOGC=10) from
	# these alone. Each op now takes a 64-byte buffer and frees it on return.
	local gen="$tmp/ts/tensor-generated.go"
	grep -qE 'ctensorPtr([7-9]|[1-9][0-9]) :=' "$gen" &&
		die "$GOTCH_MODULE@$GOTCH_VERSION has ops with more than 7 outputs: raise the output buffer in scripts/setup.sh"
	sed -i -E 's/^(\s*)(ptr|ctensorPtr0) := \(\*lib\.Ctensor\)\(unsafe\.Pointer\(C\.malloc\(0\)\)\)$/\1\2 := (*lib.Ctensor)(unsafe.Pointer(C.malloc(64)))\n\1defer C.free(unsafe.Pointer(\2))/' "$gen"
	! grep -q 'C\.malloc(0)' "$gen" && grep -q 'defer C.free(unsafe.Pointer(ptr))' "$gen" ||
		die "unexpected $GOTCH_MODULE ts/tensor-generated.go: its output buffers no longer match the pattern scripts/setup.sh frees"
}

# Redone when this script, the patch or the gotch version changes.
gotch_key=$(cat "$root/scripts/setup.sh" "$root/scripts/gotch-overhead.patch" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$build/gotch/.gtl-prepared" 2>/dev/null)" != "$gotch_key" ] || [ ! -f "$build/csrc/torch_api.cpp" ]; then
	prepare_gotch
	echo "$gotch_key" >"$build/gotch/.gtl-prepared"
fi

# ------------------------------------------------------------------ wrapper --
exec bash "$root/scripts/build-wrapper.sh" "$build/csrc" "$build/lib"
