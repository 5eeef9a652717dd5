#!/usr/bin/env bash
# scripts/setup.sh: prepare everything gtl needs to build on this machine.
#
#   1. installs missing Debian packages (libtorch-dev unless LIBTORCH is set,
#      dataset-fashion-mnist, the C++ toolchain);
#   2. copies gotch from the Go module proxy into .build/gotch (git-ignored;
#      go.mod points there with a replace directive) and patches it so that its
#      Go package links a prebuilt wrapper library instead of compiling C++;
#   3. builds gotch's C++ wrapper plus gtl's own C++ (csrc/) once, as
#      .build/lib/libgtltorch.so, against the detected libtorch. Generated ops
#      that this libtorch cannot compile are found from the compiler's errors
#      and replaced by stubs that raise an error (scripts/stubops).
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

pkgs=(dataset-fashion-mnist g++ make)
[ -n "${LIBTORCH:-}" ] || pkgs+=(libtorch-dev)
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
command -v "$CXX" >/dev/null || die "no C++ compiler ($CXX); install g++: sudo apt-get install g++"
command -v go >/dev/null || die "no Go toolchain on PATH; install Go 1.26 from go.dev/dl"

# ---------------------------------------------------------------- libtorch --
LIBTORCH=${LIBTORCH:-/usr}
[ -d "$LIBTORCH" ] || die "LIBTORCH=$LIBTORCH is not a folder; point it at a libtorch (with include/ and lib/) or unset it to use Debian's libtorch-dev"
LIBTORCH=$(cd "$LIBTORCH" && pwd -P)
inc="$LIBTORCH/include"
api_inc="$inc/torch/csrc/api/include"
[ -f "$api_inc/torch/torch.h" ] ||
	die "no libtorch headers under LIBTORCH=$LIBTORCH (looked for $api_inc/torch/torch.h); point LIBTORCH at a libtorch folder with include/ and lib/, or unset it for Debian's libtorch-dev"
libdir=""
multiarch=$($CXX -print-multiarch 2>/dev/null || true)
for d in "$LIBTORCH/lib" ${multiarch:+"$LIBTORCH/lib/$multiarch"} "$LIBTORCH/lib64"; do
	if [ -e "$d/libtorch_cpu.so" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || die "no libtorch_cpu.so under LIBTORCH=$LIBTORCH (looked in lib/, lib/$multiarch/, lib64/); the headers are there but the libraries are not"
vh="$api_inc/torch/version.h"
[ -f "$vh" ] || die "no $vh: cannot tell the libtorch version"
major=$(sed -n 's/^#define TORCH_VERSION_MAJOR \([0-9]*\).*/\1/p' "$vh")
minor=$(sed -n 's/^#define TORCH_VERSION_MINOR \([0-9]*\).*/\1/p' "$vh")
patch=$(sed -n 's/^#define TORCH_VERSION_PATCH \([0-9]*\).*/\1/p' "$vh")
version="$major.$minor.$patch"
if [ "$major" -lt 1 ] || { [ "$major" = 1 ] && [ "$minor" -lt 13 ]; }; then
	die "libtorch $version at $LIBTORCH is too old: gotch $GOTCH_VERSION's wrapper needs libtorch 1.13 or newer"
fi
cuda=0
[ -e "$libdir/libtorch_cuda.so" ] && cuda=1
# Debian and current PyTorch wheels use the C++11 string ABI, older wheels do not:
# read it off the library instead of guessing. (No grep -q: with pipefail, nm
# killed by SIGPIPE would make the test fail at random.)
command -v nm >/dev/null || die "nm not found; install binutils: sudo apt-get install binutils"
abi=0
if nm -D --defined-only "$libdir/libc10.so" 2>/dev/null | grep '__cxx11' >/dev/null; then
	abi=1
fi

# ------------------------------------------------------------------- stamp --
# Everything that goes into the build; when it is unchanged there is nothing to do.
hash_inputs() {
	{
		echo "$GOTCH_MODULE@$GOTCH_VERSION $LIBTORCH $libdir $version cuda=$cuda abi=$abi root=$root"
		"$CXX" --version | head -1
		stat -L -c '%n %s %Y' "$libdir"/libtorch_cpu.so "$libdir"/libc10.so
		cat "$root/scripts/setup.sh" "$root"/scripts/stubops/*.go "$root"/csrc/*
	} | sha256sum | cut -d' ' -f1
}
key=$(hash_inputs)
lib="$build/lib/libgtltorch.so"
if [ -f "$build/stamp" ] && [ "$(cat "$build/stamp")" = "$key" ] && [ -f "$lib" ] && [ -f "$build/gotch/go.mod" ]; then
	say "up to date: libtorch $version ($([ $cuda = 1 ] && echo CUDA || echo CPU)) at $libdir, $(wc -l <"$build/disabled-ops.txt") ops disabled"
	exit 0
fi
rm -f "$build/stamp"
mkdir -p "$build/lib"

# ------------------------------------------------------------------- gotch --
gotch_src=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "$GOTCH_MODULE@$GOTCH_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$gotch_src" ] || die "could not download $GOTCH_MODULE@$GOTCH_VERSION from the Go module proxy (GOPROXY=$(go env GOPROXY))"
say "preparing gotch $GOTCH_VERSION from $gotch_src"
# Copied straight into place: go.mod's replace directive needs it before
# stubops (a Go program of this module) can run. Until the stamp is written,
# a half-done copy is redone on the next run.
tmp="$build/gotch"
rm -rf "$tmp"
cp -r "$gotch_src" "$tmp"
chmod -R u+w "$tmp"
rm -rf "$tmp/example" "$tmp/gen" # not built; keep go vet and go list quiet
csrc="$build/csrc"
rm -rf "$csrc"
mkdir -p "$csrc"
# The C++ sources leave the Go package, so cgo no longer compiles them on every build.
mv "$tmp"/libtch/torch_api.cpp "$tmp"/libtch/torch_api_generated.cpp.h "$tmp"/libtch/stb_image*.h "$csrc"/
cp "$tmp"/libtch/torch_api.h "$tmp"/libtch/torch_api_generated.h "$csrc"/
# torch_api.h defines the thread-local error slot; with the wrapper in a shared
# library, exactly one translation unit must own it.
sed -i 's/^thread_local char \*torch_last_err = nullptr;/extern thread_local char *torch_last_err;/' "$csrc/torch_api.h"
grep -q '^extern thread_local char \*torch_last_err;' "$csrc/torch_api.h" || die "unexpected $GOTCH_MODULE torch_api.h: no torch_last_err definition to patch"
sed -i 's/^using namespace std;$/using namespace std;\nthread_local char *torch_last_err = nullptr;/' "$csrc/torch_api.cpp"
cat >"$tmp/libtch/lib.go" <<'GO'
package libtch

// Patched by gtl's scripts/setup.sh: the C++ wrapper is prebuilt as
// libgtltorch.so (in .build/lib) and found through an rpath, so go build
// compiles no C++ and links no libtorch or CUDA library directly.

// #cgo CFLAGS: -I${SRCDIR}
// #cgo LDFLAGS: -L${SRCDIR}/../../lib -lgtltorch -Wl,-rpath,${SRCDIR}/../../lib
import "C"
GO

# ----------------------------------------------------------- stub the ops --
cxxflags=(-std=c++17 -fPIC -w "-D_GLIBCXX_USE_CXX11_ABI=$abi" -I"$csrc" -I"$inc" -I"$api_inc")
: >"$build/disabled-ops.txt"
for round in 1 2 3 4 5; do
	if "$CXX" "${cxxflags[@]}" -fsyntax-only -fmax-errors=0 "$csrc/torch_api.cpp" 2>"$build/compile-errors.txt"; then
		break
	fi
	[ "$round" -lt 5 ] || die "the wrapper still does not compile after 4 rounds of disabling ops (errors: $build/compile-errors.txt)"
	if ! (cd "$root" && go run ./scripts/stubops -gen "$csrc/torch_api_generated.cpp.h" -errors "$build/compile-errors.txt" \
		-version "$version" -list "$build/disabled-ops.txt" >/dev/null 2>"$build/stubops.log"); then
		die "gotch $GOTCH_VERSION's wrapper cannot be built against libtorch $version at $LIBTORCH: $(cat "$build/stubops.log") (full errors: $build/compile-errors.txt); use a libtorch between 1.13 and 2.x"
	fi
done
disabled=$(wc -l <"$build/disabled-ops.txt")
say "libtorch $version: disabled $disabled generated ops it cannot compile (list: .build/disabled-ops.txt)"

# ------------------------------------------------------------------- build --
torch_libs=(-ltorch -ltorch_cpu -lc10)
defs=("-DGTL_DISABLED_OPS=$disabled" "-DGTL_GOTCH_VERSION=\"$GOTCH_VERSION\"" "-DGTL_LIBTORCH_DIR=\"$libdir\"")
if [ "$cuda" = 1 ]; then
	torch_libs+=(-ltorch_cuda -lc10_cuda)
	defs+=(-DGTL_WITH_CUDA=1)
fi
say "compiling the wrapper library (about a minute)"
log="$build/build.log"
"$CXX" "${cxxflags[@]}" -O2 -c "$csrc/torch_api.cpp" -o "$build/torch_api.o" >"$log" 2>&1 ||
	die "compiling gotch's wrapper against libtorch $version at $LIBTORCH failed (log: $log)"
"$CXX" "${cxxflags[@]}" -O2 "${defs[@]}" -I"$root/csrc" -c "$root/csrc/gtl_api.cpp" -o "$build/gtl_api.o" >>"$log" 2>&1 ||
	die "compiling csrc/gtl_api.cpp against libtorch $version failed (log: $log)"
# --no-as-needed: libtorch_cuda must stay linked although no symbol of it is
# referenced directly, or CUDA kernels are never registered.
# -z defs: an unresolved symbol (a C++ ABI mismatch, a missing library) fails
# here, not later when Go links the binary.
"$CXX" -shared -Wl,-z,defs -o "$lib.tmp" "$build/torch_api.o" "$build/gtl_api.o" \
	-L"$libdir" -Wl,-rpath,"$libdir" -Wl,--no-as-needed "${torch_libs[@]}" -Wl,--as-needed -ldl -lpthread >>"$log" 2>&1 ||
	die "linking the wrapper library against $libdir failed: unresolved symbols usually mean a C++ ABI mismatch (detected _GLIBCXX_USE_CXX11_ABI=$abi; log: $log)"
mv "$lib.tmp" "$lib"
echo "$key" >"$build/stamp"
say "ready: libtorch $version ($([ $cuda = 1 ] && echo CUDA || echo CPU)) at $libdir -> .build/lib/libgtltorch.so"
