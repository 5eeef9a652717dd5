#!/usr/bin/env bash
# scripts/bench/cpu.sh: gtl bench against PyTorch (scripts/bench/pytorch_ref.py)
# on the CPU, same libtorch, same threads, same synthetic data; repetitions
# interleaved (gtl, torch, gtl, torch, ...) so that machine load hits both
# alike; prints the median images/s of each, its spread and the ratios per
# config. Modes: train (every stage trained), freeze2 (train with the first
# two stages frozen: no gradients, batch norms on running statistics, as
# gtl train --freeze 2), infer (eval forward; PyTorch twice: eager no_grad,
# and its frozen path optimize_for_inference(freeze(script(m.eval()))); and
# ONNX Runtime on the model gtl exports (gtl export --format onnx, run by
# scripts/onnx/run.js --bench with the same threads, interleaved too).
#
# Environment (defaults in brackets):
#   MODELS        architectures [resnet18 resnet50 mobilenet_v2]
#   MODES         [train freeze2 infer]
#   REPS          repetitions per tool and config [3]
#   TRAIN_BATCH   [8]     INFER_BATCH [16]     SIZE [224]
#   STEPS         timed steps per run [3]      WARMUP [1]
#   THREADS       libtorch intra-op threads for both [one per physical core]
#   AMP           bf16 to run both under CPU autocast [off]
#   GTL           gtl binary [built into .build/bin/gtl]
#   PYTHON        Python with torch + torchvision [/usr/bin/python3]
#   OUT           folder for the raw JSON lines [a temporary folder]
#   ORT           1 to add ONNX Runtime to infer, 0 not to [1 when node and
#                 onnxruntime-node (scripts/onnx/setup.sh) are there]
#   ORT_DIR       where onnxruntime-node is installed [.cache/ort]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODELS=${MODELS:-"resnet18 resnet50 mobilenet_v2"}
MODES=${MODES:-"train freeze2 infer"}
REPS=${REPS:-3}
TRAIN_BATCH=${TRAIN_BATCH:-8}
INFER_BATCH=${INFER_BATCH:-16}
SIZE=${SIZE:-224}
STEPS=${STEPS:-3}
WARMUP=${WARMUP:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
AMP=${AMP:-}
if [ -z "${GTL:-}" ]; then
	GTL="$root/.build/bin/gtl"
	(cd "$root" && go build -o "$GTL" ./cmd/gtl) || { echo "cpu.sh: error: go build ./cmd/gtl failed" >&2; exit 1; }
fi
[ -x "$GTL" ] || { echo "cpu.sh: error: GTL=$GTL is not an executable" >&2; exit 1; }
if [ -z "${THREADS:-}" ]; then
	THREADS=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import pytorch_ref; print(pytorch_ref.physical_cores())' "$root/scripts/bench")
fi
ORT_DIR=${ORT_DIR:-$root/.cache/ort}
if [ -z "${ORT:-}" ]; then
	ORT=0
	if command -v node >/dev/null && [ -f "$ORT_DIR/node_modules/onnxruntime-node/package.json" ]; then ORT=1; fi
fi
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
results="$out/cpu-bench.jsonl"
: >"$results"
amp=()
[ -z "$AMP" ] || amp=(--amp "$AMP")
start=$(date +%s)
echo "cpu.sh: $MODELS × $MODES, $REPS reps, $THREADS threads, steps $STEPS (+$WARMUP warm-up); raw results: $results" >&2
for model in $MODELS; do
	for mode in $MODES; do
		batch=$TRAIN_BATCH m=train extra=()
		case $mode in
		infer) batch=$INFER_BATCH m=infer ;;
		freeze2) extra=(--freeze 2) ;;
		train) ;;
		*) echo "cpu.sh: error: mode $mode: want train, freeze2 or infer" >&2; exit 2 ;;
		esac
		args=(--model "$model" --mode "$m" --batch "$batch" --image-size "$SIZE" --device cpu
			--steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --json "${amp[@]}" "${extra[@]}")
		onnx="$out/$model.$SIZE.onnx"
		if [ "$m" = infer ] && [ "$ORT" = 1 ] && [ ! -f "$onnx" ]; then
			"$GTL" export --model "$model" --format onnx --size "$SIZE" --out "$onnx" --quiet >/dev/null ||
				{ echo "cpu.sh: error: gtl export --format onnx --model $model failed" >&2; exit 1; }
		fi
		for ((r = 1; r <= REPS; r++)); do
			echo "{\"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$results"
			"$GTL" bench "${args[@]}" >>"$results"
			"$PYTHON" "$root/scripts/bench/pytorch_ref.py" "${args[@]}" >>"$results"
			if [ "$m" = infer ]; then
				"$PYTHON" "$root/scripts/bench/pytorch_ref.py" "${args[@]}" --jit-freeze >>"$results"
				if [ "$ORT" = 1 ]; then
					NODE_PATH="$ORT_DIR/node_modules" node "$root/scripts/onnx/run.js" --bench "$onnx" "$model" \
						"$THREADS" "$batch" "$SIZE" "$WARMUP" "$STEPS" >>"$results"
				fi
			fi
		done
		echo "cpu.sh: $model $mode done ($(($(date +%s) - start)) s)" >&2
	done
done
"$PYTHON" "$root/scripts/bench/table.py" "$results"
