#!/usr/bin/env bash
# scripts/build-wrapper.sh: build libgtltorch.so, gotch's C++ wrapper plus
# gtl's own C API (csrc/), against one libtorch.
#
#   build-wrapper.sh SRC OUT
#
# SRC holds gotch's patched wrapper sources (torch_api.cpp, its headers and
# torch_api_generated.cpp.h), as scripts/setup.sh prepares them in
# .build/csrc. OUT receives libgtltorch.so, disabled-ops.txt and the build
# log. Generated ops that this libtorch cannot compile are found from the
# compiler's errors and replaced by stubs that raise an error naming the op
# (stubops), then the wrapper is compiled again. Needs a C++ compiler and
# binutils; Go only when STUBOPS is unset.
#
# Environment:
#   LIBTORCH=/path  libtorch to build against: a folder with include/ and lib/
#                   (an unpacked libtorch zip, or a PyTorch wheel's torch/
#                   folder; CUDA libraries there are linked when present).
#                   Default: Debian's libtorch-dev in /usr.
#   STUBOPS=cmd     the stubops program (default: go run ./scripts/stubops).
#   CXX             C++ compiler (default g++).
# Exits 0 when OUT is up to date for these inputs (stamped in OUT/stamp).
set -euo pipefail

GOTCH_VERSION=v0.9.1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CXX=${CXX:-g++}
die() { echo "setup: error: $*" >&2; exit 1; }
say() { echo "setup: $*" >&2; }

[ $# = 2 ] || die "usage: build-wrapper.sh SRC OUT"
src=$(cd "$1" 2>/dev/null && pwd) || die "wrapper sources $1 not found (run scripts/setup.sh)"
[ -f "$src/torch_api.cpp" ] && [ -f "$src/torch_api_generated.cpp.h" ] || die "no torch_api.cpp / torch_api_generated.cpp.h in $src (run scripts/setup.sh)"
mkdir -p "$2"
out=$(cd "$2" && pwd)
command -v "$CXX" >/dev/null || die "no C++ compiler ($CXX); install g++: sudo apt-get install g++"

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
# Ask the preprocessor: the header that defines the numbers moved between
# releases (torch/version.h, later torch/headeronly/version.h).
read -r major minor patch < <(printf '#include <torch/version.h>\nTORCH_VERSION_MAJOR TORCH_VERSION_MINOR TORCH_VERSION_PATCH\n' |
	"$CXX" -E -P -x c++ -I"$api_inc" -I"$inc" - 2>/dev/null | tail -n 1) || true
[[ "$major.$minor.$patch" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	die "cannot tell the libtorch version at $LIBTORCH: $api_inc/torch/version.h does not define TORCH_VERSION_MAJOR/MINOR/PATCH"
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
key=$({
	echo "$GOTCH_VERSION $LIBTORCH $libdir $version cuda=$cuda abi=$abi out=$out"
	"$CXX" --version | head -1
	stat -L -c '%n %s %Y' "$libdir"/libtorch_cpu.so "$libdir"/libc10.so
	# stubops' sources are absent from a GPU bundle (it carries the binary).
	cat "$root/scripts/build-wrapper.sh" "$root"/scripts/stubops/*.go "$root"/csrc/* "$src"/* 2>/dev/null || true
} | sha256sum | cut -d' ' -f1)
lib="$out/libgtltorch.so"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] && [ -f "$lib" ]; then
	say "up to date: libtorch $version ($([ $cuda = 1 ] && echo CUDA || echo CPU)) at $libdir, $(wc -l <"$out/disabled-ops.txt") ops disabled"
	exit 0
fi
rm -f "$out/stamp"
csrc="$out/src"
build="$out"
STUBOPS=${STUBOPS:-"go run $root/scripts/stubops"}
cxxflags=(-std=c++17 -fPIC -w "-D_GLIBCXX_USE_CXX11_ABI=$abi" -I"$csrc" -I"$inc" -I"$api_inc")

# gotch's generated wrapper is by far the slowest part to compile: it is
# rebuilt only when its own inputs change (not when gtl's csrc/ does).
gkey=$({
	echo "$GOTCH_VERSION $LIBTORCH $libdir $version cuda=$cuda abi=$abi"
	"$CXX" --version | head -1
	stat -L -c '%n %s %Y' "$libdir"/libtorch_cpu.so "$libdir"/libc10.so
	cat "$root/scripts/build-wrapper.sh" "$root"/scripts/stubops/*.go "$src"/* 2>/dev/null || true
} | sha256sum | cut -d' ' -f1)
if [ -f "$build/torch_api.stamp" ] && [ "$(cat "$build/torch_api.stamp")" = "$gkey" ] && [ -f "$build/torch_api.o" ] && [ -f "$build/disabled-ops.txt" ]; then
	gotch_ready=1
else
	gotch_ready=0
	rm -f "$build/torch_api.stamp"
	rm -rf "$csrc"
	cp -r "$src" "$csrc"
fi

# ----------------------------------------------------------- stub the ops --
if [ "$gotch_ready" = 0 ]; then
	: >"$build/disabled-ops.txt"
	for round in 1 2 3 4 5; do
		if "$CXX" "${cxxflags[@]}" -fsyntax-only -fmax-errors=0 "$csrc/torch_api.cpp" 2>"$build/compile-errors.txt"; then
			break
		fi
		[ "$round" -lt 5 ] || die "the wrapper still does not compile after 4 rounds of disabling ops (errors: $build/compile-errors.txt)"
		if ! (cd "$root" && $STUBOPS -gen "$csrc/torch_api_generated.cpp.h" -errors "$build/compile-errors.txt" \
			-version "$version" -list "$build/disabled-ops.txt" >/dev/null 2>"$build/stubops.log"); then
			die "gotch $GOTCH_VERSION's wrapper cannot be built against libtorch $version at $LIBTORCH: $(cat "$build/stubops.log") (full errors: $build/compile-errors.txt); use a libtorch between 1.13 and 2.x"
		fi
	done
fi
disabled=$(wc -l <"$build/disabled-ops.txt")
say "libtorch $version: disabled $disabled generated ops it cannot compile (list: $build/disabled-ops.txt)"

# ------------------------------------------------------------------- build --
torch_libs=(-ltorch -ltorch_cpu -lc10)
defs=("-DGTL_DISABLED_OPS=$disabled" "-DGTL_GOTCH_VERSION=\"$GOTCH_VERSION\"" "-DGTL_LIBTORCH_DIR=\"$libdir\"")
if [ "$cuda" = 1 ]; then
	torch_libs+=(-ltorch_cuda -lc10_cuda)
	defs+=(-DGTL_WITH_CUDA=1)
	# CUDA's runtime headers (for the caching allocator's memory statistics):
	# from a CUDA toolkit, or from the nvidia-* wheels PyTorch installs beside
	# itself. Without them the wrapper still builds; peak GPU memory is then
	# unknown.
	cuda_inc=""
	for d in "${CUDA_HOME:-/usr/local/cuda}/include" "$LIBTORCH"/../nvidia/cuda_runtime/include "$LIBTORCH"/../nvidia/cu*/include; do
		if [ -f "$d/cuda_runtime_api.h" ]; then cuda_inc=$d; break; fi
	done
	if [ -n "$cuda_inc" ]; then
		defs+=(-DGTL_CUDA_HEADERS=1 -I"$cuda_inc")
		say "CUDA headers: $cuda_inc"
	else
		say "no CUDA runtime headers found (set CUDA_HOME); GPU peak memory will be unknown"
	fi
fi
log="$build/build.log"
: >"$log"
if [ "$gotch_ready" = 0 ]; then
	say "compiling the wrapper library (about a minute)"
	"$CXX" "${cxxflags[@]}" -O2 -c "$csrc/torch_api.cpp" -o "$build/torch_api.o" >"$log" 2>&1 ||
		die "compiling gotch's wrapper against libtorch $version at $LIBTORCH failed (log: $log)"
	echo "$gkey" >"$build/torch_api.stamp"
fi
# gtl's own C++: every csrc/*.cpp, one object each.
objs=("$build/torch_api.o")
for cpp in "$root"/csrc/*.cpp; do
	obj="$build/gtl_$(basename "$cpp" .cpp).o"
	if ! "$CXX" "${cxxflags[@]}" -O2 "${defs[@]}" -I"$root/csrc" -c "$cpp" -o "$obj" >>"$log" 2>&1; then
		# The CUDA allocator's headers can disagree with a CUDA runtime found
		# elsewhere: build without them (GPU peak memory then unknown).
		if [[ " ${defs[*]} " == *" -DGTL_CUDA_HEADERS=1 "* ]]; then
			say "csrc/$(basename "$cpp") did not compile with the CUDA headers; retrying without (GPU peak memory will be unknown)"
			nocuda=()
			for d in "${defs[@]}"; do [[ "$d" == -DGTL_CUDA_HEADERS=1 || ( "$d" == -I* && "$d" == *include ) ]] || nocuda+=("$d"); done
			defs=("${nocuda[@]}")
		fi
		"$CXX" "${cxxflags[@]}" -O2 "${defs[@]}" -I"$root/csrc" -c "$cpp" -o "$obj" >>"$log" 2>&1 ||
			die "compiling csrc/$(basename "$cpp") against libtorch $version failed (log: $log)"
	fi
	objs+=("$obj")
done
# --no-as-needed: libtorch_cuda must stay linked although no symbol of it is
# referenced directly, or CUDA kernels are never registered.
# -z defs: an unresolved symbol (a C++ ABI mismatch, a missing library) fails
# here, not later when Go links the binary.
"$CXX" -shared -Wl,-z,defs -o "$lib.tmp" "${objs[@]}" \
	-L"$libdir" -Wl,-rpath,"$libdir" -Wl,--no-as-needed "${torch_libs[@]}" -Wl,--as-needed -ldl -lpthread >>"$log" 2>&1 ||
	die "linking the wrapper library against $libdir failed: unresolved symbols usually mean a C++ ABI mismatch (detected _GLIBCXX_USE_CXX11_ABI=$abi; log: $log)"
mv "$lib.tmp" "$lib"
echo "$key" >"$build/stamp"
say "ready: libtorch $version ($([ $cuda = 1 ] && echo CUDA || echo CPU)) at $libdir -> $lib"
