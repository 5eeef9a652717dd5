#!/usr/bin/env bash
# The transfer-learning demo (make demo): train a source model from scratch
# on Fashion-MNIST classes 0-4, compare transfer strategies against training
# from scratch on classes 5-9 (a similar domain) and on rendered digit glyphs
# (a different domain), and ask gtl recommend what to do in each case.
#
#   DEMO=quick  a ~2-minute version at a tiny size (used by the tests)
#   OUT=dir     where the runs go (default runs/demo, runs/demo-quick)
#   SEEDS=n GLYPH_SEEDS=n VAL=n GLYPH_VAL=n  override the grid (the README's tables: SEEDS=3 VAL=1000 GLYPH_VAL=100)
set -euo pipefail
cd "$(dirname "$0")/.."
GTL=${GTL:-./bin/gtl}
MODE=${DEMO:-full}
case "$MODE" in
full)
	OUT=${OUT:-runs/demo}
	SOURCE_ARGS=(--epochs 3)
	SHOTS=5,20,100,500
	SEEDS=${SEEDS:-2}
	VAL=${VAL:-500}
	STRATS=scratch,linear,freeze-2,full
	GLYPH_ARGS=(--train-per-class 500 --val-per-class "${GLYPH_VAL:-50}")
	GLYPH_SHOTS=5,20,100,500
	GLYPH_SEEDS=${GLYPH_SEEDS:-2}
	;;
quick)
	OUT=${OUT:-runs/demo-quick}
	SOURCE_ARGS=(--epochs 2 --shots 300 --val 500)
	SHOTS=5,20
	SEEDS=1
	VAL=200
	STRATS=scratch,linear,freeze-2
	GLYPH_ARGS=(--train-per-class 40 --val-per-class 20)
	GLYPH_SHOTS=5,20
	GLYPH_SEEDS=1
	;;
*)
	echo "demo: DEMO=$MODE: want quick or nothing" >&2
	exit 2
	;;
esac
[ -x "$GTL" ] || { echo "demo: $GTL not found: run make build" >&2; exit 1; }
mkdir -p "$OUT"
began=$(date +%s)
step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

if [ ! -f "$OUT/source/best.safetensors" ]; then
	step "1. source model: resnet18 from scratch on Fashion-MNIST classes 0-4 (T-shirt, trouser, pullover, dress, coat)" \
		"$GTL" train --model resnet18 --data fashion-mnist --classes 0-4 "${SOURCE_ARGS[@]}" --out "$OUT/source" --quiet
else
	echo "== 1. source model: $OUT/source/best.safetensors exists (delete it to retrain)"
fi
SRC="$OUT/source/best.safetensors"

step "2. similar target: Fashion-MNIST classes 5-9 (sandal, shirt, sneaker, bag, ankle boot)" \
	"$GTL" compare --weights "$SRC" --data fashion-mnist --classes 5-9 --val "$VAL" \
	--strategies "$STRATS" --shots "$SHOTS" --seeds "$SEEDS" --out "$OUT/compare-fashion" --resume --quiet

step "3. different target: digit glyphs rendered from the machine's fonts" \
	"$GTL" glyphs --out "$OUT/glyphs" "${GLYPH_ARGS[@]}" --seed 1 --force
step "   compare on the glyphs" \
	"$GTL" compare --weights "$SRC" --data "$OUT/glyphs" \
	--strategies "$STRATS" --shots "$GLYPH_SHOTS" --seeds "$GLYPH_SEEDS" --out "$OUT/compare-glyphs" --resume --quiet

step "4. the advisor on 20 labels per class of each target" \
	"$GTL" recommend --weights "$SRC" --data fashion-mnist --classes 5-9 --shots 20
step "" "$GTL" recommend --weights "$SRC" --data "$OUT/glyphs" --shots 20

printf '\n== demo finished in %ss; reports: %s/compare-fashion/report.md, %s/compare-glyphs/report.md\n' \
	"$(( $(date +%s) - began ))" "$OUT" "$OUT"
