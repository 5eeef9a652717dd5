#!/usr/bin/env bash
# The README's LR-finder table: on the demo's similar (digits) and
# different (Fashion-MNIST) targets from its letters source, at 5 and 20
# images per class, plain fine-tuning (gtl train's defaults: cosine with
# 10% warm-up, at least 100 steps) at a grid of head rates and at the LR
# finder's suggestion (--lr find, valley). One seed, one libtorch thread.
#
#   SRC=letters-source/best.safetensors DIGITS=digits OUT=/tmp/lrgrid scripts/lrfind-grid.sh
set -euo pipefail
GTL=${GTL:-bin/gtl}
SRC=${SRC:?the demo letters source checkpoint}
DIGITS=${DIGITS:?the demo digits folder (gtl glyphs --set digits --train-per-class 500 --val-per-class 30 --seed 2)}
OUT=${OUT:-/tmp/lrgrid}
RATES=${RATES:-0.001 0.01 0.1}
SEED=${SEED:-1}
export GTL_NUM_THREADS=${GTL_NUM_THREADS:-1}
mkdir -p "$OUT"
for target in digits fashion; do
	case $target in
	digits) data=(--data "$DIGITS") ;;
	fashion) data=(--data fashion-mnist --val 300) ;;
	esac
	for shots in 5 20; do
		for lr in find $RATES; do
			dir=$OUT/$target-$shots-$lr
			if [ ! -f "$dir/confusion.csv" ]; then
				"$GTL" train --quiet --weights "$SRC" "${data[@]}" --shots "$shots" --seed "$SEED" --lr "$lr" --out "$dir" --overwrite >"$dir.log" 2>&1
			fi
			acc=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print("%.1f" % (100*r[-1]["val_accuracy"]))' "$dir/metrics.jsonl")
			used=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lr"])' "$dir/config.json")
			echo "$target $shots $lr $used $acc"
		done
	done
done | tee "$OUT/table.txt"
