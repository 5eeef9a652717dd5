#!/usr/bin/env bash
# The README's LR-finder table: on the demo's similar (digits) and
# different (Fashion-MNIST, 300 evaluation images) targets from its letters
# source, at 5 and 20 images per class, full fine-tuning (gtl compare's
# full strategy: at least 100 steps) at a grid of head rates and at the LR
# finder's suggestions (--lr find: valley; steep and minimum with
# --suggest). One seed, one libtorch thread; the two targets run side by
# side. Prints: target, images per class, rate asked, rate trained at,
# final accuracy (%).
#
#   SRC=letters-source/best.safetensors DIGITS=digits OUT=/tmp/lrgrid scripts/lrfind-grid.sh
set -euo pipefail
GTL=${GTL:-bin/gtl}
SRC=${SRC:?the demo letters source checkpoint}
DIGITS=${DIGITS:?the demo digits folder (gtl glyphs --set digits --train-per-class 500 --val-per-class 30 --seed 2)}
OUT=${OUT:-/tmp/lrgrid}
RATES=${RATES:-find steep minimum 0.001 0.01 0.1}
export GTL_NUM_THREADS=${GTL_NUM_THREADS:-1}
mkdir -p "$OUT"
grid() { # target data...
	local target=$1
	shift
	for lr in $RATES; do
		case $lr in
		steep | minimum) how=(--lr find --suggest "$lr") ;;
		*) how=(--lr "$lr") ;;
		esac
		"$GTL" compare --quiet --weights "$SRC" "$@" --strategies full --shots 5,20 --seeds 1 "${how[@]}" --out "$OUT/$target-$lr" --resume >"$OUT/$target-$lr.log" 2>&1
	done
}
grid digits --data "$DIGITS" &
grid fashion --data fashion-mnist --val 300 &
wait
for target in digits fashion; do
	for lr in $RATES; do
		python3 - "$OUT/$target-$lr/results.json" "$target" "$lr" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
for r in res["runs"]:
    print(sys.argv[2], r["shots"], sys.argv[3], "%.3g" % (r.get("lr_found") or r["config"]["lr"]), "%.1f" % (100 * r["final_accuracy"]))
PY
	done
done | tee "$OUT/table.txt"
