#!/usr/bin/env bash
# scripts/gpu/run.sh: on a GPU machine with PyTorch (CUDA) and a C++
# compiler, from an unpacked bundle (scripts/gpu/bundle.sh): build the wrapper
# library against the libtorch inside the torch Python package, then check
# the install with gtl doctor, then benchmark gtl against PyTorch on the GPU
# (gtl bench and scripts/bench/pytorch_ref.py, interleaved) and print a
# side-by-side table. Output goes to stdout; OUT=dir also keeps the build log
# and the raw JSON results there.
#
#   GTL_BENCH=0            skip the benchmark
#   GTL_BENCH_DEVICE=cpu   benchmark on the CPU instead (to test this script
#                          without a GPU); default cuda
#   GTL_BENCH_QUICK=1      tiny sizes and steps (a smoke test)
#   GTL_BENCH_REPS=N       repetitions per tool and config (default 2)
#   GTL_BENCH_BUDGET_S=S   start no new config after S seconds (default 300)
set -euo pipefail
bundle=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3}
if [ -z "${LIBTORCH:-}" ]; then
	LIBTORCH=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))') ||
		{ echo "run.sh: error: no torch in $PYTHON; set LIBTORCH to a libtorch folder" >&2; exit 1; }
fi
export LIBTORCH
echo "== $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi'); torch $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
start=$(date +%s)
STUBOPS="$bundle/bin/stubops" bash "$bundle/scripts/build-wrapper.sh" "$bundle/wrapper-src" "$bundle/lib"
echo "== wrapper built in $(($(date +%s) - start)) s; disabled ops: $(wc -l <"$bundle/lib/disabled-ops.txt")"
[ -z "${OUT:-}" ] || cp "$bundle/lib/build.log" "$bundle/lib/disabled-ops.txt" "$OUT/" 2>/dev/null || true
# The bundle's library first, whatever paths the binary remembers from its build.
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$bundle/bin/gtl" version
"$bundle/bin/gtl" doctor

[ "${GTL_BENCH:-1}" != 0 ] || exit 0

# ------------------------------------------------------------- benchmark --
dev=${GTL_BENCH_DEVICE:-cuda}
reps=${GTL_BENCH_REPS:-2}
results="${OUT:-$bundle}/gpu-bench.jsonl"
: >"$results"
# config: model mode batch amp channels-last(0/1) steps warmup
if [ "${GTL_BENCH_QUICK:-}" = 1 ]; then
	size=64
	configs=(
		"resnet50 train 4 - 0 2 1"
		"resnet50 train 4 bf16 1 2 1"
		"resnet18 infer 8 - 0 2 1"
		"mobilenet_v2 train 4 - 0 2 1"
	)
else
	size=224
	configs=(
		"resnet50 train 256 - 0 10 3"
		"resnet50 train 256 fp16 1 10 3"
		"resnet50 infer 256 fp16 1 15 3"
		"resnet18 train 256 fp16 1 10 3"
		"mobilenet_v2 train 256 fp16 1 10 3"
	)
fi
echo "== benchmark on $dev: ${#configs[@]} configs × $reps reps × 2 tools (raw: $results)"
bstart=$(date +%s)
for cfg in "${configs[@]}"; do
	# Keep the whole run inside the machine's time: stop starting configs
	# after GTL_BENCH_BUDGET_S seconds of benchmarking.
	if (($(date +%s) - bstart > ${GTL_BENCH_BUDGET_S:-300})); then
		echo "== time budget spent; skipping $cfg and the rest" >&2
		break
	fi
	read -r model mode batch amp cl steps warmup <<<"$cfg"
	args=(--model "$model" --mode "$mode" --batch "$batch" --image-size "$size" --device "$dev"
		--steps "$steps" --warmup "$warmup" --json)
	[ "$amp" = - ] || args+=(--amp "$amp")
	[ "$cl" = 0 ] || args+=(--channels-last)
	[ "$dev" != cpu ] || args+=(--threads "${GTL_BENCH_THREADS:-2}")
	for ((r = 1; r <= reps; r++)); do
		# One failing config must not hide the rest of the table.
		"$bundle/bin/gtl" bench "${args[@]}" >>"$results" || echo "== gtl bench $cfg failed" >&2
		"$PYTHON" "$bundle/scripts/bench/pytorch_ref.py" "${args[@]}" >>"$results" || echo "== pytorch_ref $cfg failed" >&2
	done
	echo "== $cfg done ($(($(date +%s) - bstart)) s)" >&2
done
"$PYTHON" "$bundle/scripts/bench/table.py" "$results"
