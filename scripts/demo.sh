#!/usr/bin/env bash
# The transfer-learning demo (make demo). A general source model — resnet18
# trained from scratch on rendered letters A-Z from gtl glyphs' pinned fonts
# (79 files from five Debian packages that scripts/setup.sh installs, each
# checked against its SHA-256, so every machine draws the same images) — is
# compared against training from scratch on three targets:
#
#   similar:   rendered digits (new classes in the source's domain)
#   different: Fashion-MNIST, all 10 classes (photographs of clothing)
#   narrow:    Fashion-MNIST classes 5-9 from a source trained on classes
#              0-4 only (the negative-transfer example)
#
# each at several labelled images per class, and gtl recommend is asked
# about every cell. Source models are cached under $GTL_HOME/demo-sources,
# keyed by the command that trains them, its data (for the letters, their
# glyphs.json: the fonts with their SHA-256 and the images' digest) and gtl's
# version, so a second run reuses them (delete the folder to retrain).
#
#   (default)    5 and 20 labelled images per class, strategies scratch,
#                linear and freeze-2, 2 seeds: the small targets where
#                transfer should win (a second run reuses the sources)
#   DEMO=full    the whole table: 5, 20, 100 and 500 per class, full
#                fine-tuning too (adds the sizes where scratch catches up;
#                hours on 2 cores)
#   DEMO=quick   a tiny version (5 minutes on 2 idle cores; used by the tests)
#   OUT=dir      where the runs go (default runs/demo, runs/demo-full, runs/demo-quick)
#   SEEDS=n VAL=n SHOTS=list  override the grid
#   JOBS=n       runs at once (default 2: the two source models train side by
#                side, and each comparison runs as JOBS shards of its grid,
#                gtl compare --shard K/N, joined with --merge; every run
#                has one libtorch thread, so the results are the same as
#                with JOBS=1, only sooner)
#   SOURCES_ONLY=1  stop after the source models (the cache test)
set -euo pipefail
cd "$(dirname "$0")/.."
GTL=${GTL:-./bin/gtl}
MODE=${DEMO:-default}
case "$MODE" in
default | full)
	if [ "$MODE" = full ]; then OUT=${OUT:-runs/demo-full}; else OUT=${OUT:-runs/demo}; fi
	# The general source: 26 letters × 600 images from the pinned fonts, 2
	# epochs (974 steps): 98.8% on its own validation letters.
	LETTERS_ARGS=(--train-per-class 600 --val-per-class 20)
	LETTERS_TRAIN=(--epochs 2)
	NARROW_TRAIN=(--shots 1000 --epochs 3)
	DIGITS_ARGS=(--train-per-class 500 --val-per-class 30)
	if [ "$MODE" = full ]; then SHOTS=${SHOTS:-5,20,100,500}; else SHOTS=${SHOTS:-5,20}; fi
	SEEDS=${SEEDS:-2}
	VAL=${VAL:-300}
	# full fine-tuning measured within noise of freeze-2 in every cell of
	# the small targets; it costs as much, so only DEMO=full runs it.
	if [ "$MODE" = full ]; then STRATS=scratch,linear,freeze-2,full; else STRATS=scratch,linear,freeze-2; fi
	;;
quick)
	OUT=${OUT:-runs/demo-quick}
	LETTERS_ARGS=(--train-per-class 30 --val-per-class 10)
	LETTERS_TRAIN=(--epochs 2)
	NARROW_TRAIN=(--epochs 2 --shots 300 --val 500)
	DIGITS_ARGS=(--train-per-class 20 --val-per-class 10)
	SHOTS=${SHOTS:-5,20}
	SEEDS=${SEEDS:-1}
	VAL=${VAL:-100}
	STRATS=scratch,linear,freeze-2
	;;
*)
	echo "demo: DEMO=$MODE: want quick, full or nothing" >&2
	exit 2
	;;
esac
[ -x "$GTL" ] || { echo "demo: $GTL not found: run make build" >&2; exit 1; }
# One libtorch thread unless told otherwise: the README's numbers were
# measured so (results depend on the thread count), and on a 2-core machine
# two OpenMP threads lose to one as soon as anything else runs (a resnet18
# step at 32 px: 597 ms against 283 ms at load 2.5; idle, 202 against
# 312 ms; README, Performance). The default demo took 12 min 10 s on 2
# idle cores with JOBS=2, sources included (21 min 40 s with JOBS=1, before
# freeze-2's frozen stages were computed once per image).
export GTL_NUM_THREADS=${GTL_NUM_THREADS:-1}
JOBS=${JOBS:-2}
case "$JOBS" in '' | *[!0-9]* | 0) echo "demo: JOBS=$JOBS: want a number of runs at once, 1 or more" >&2; exit 2 ;; esac
mkdir -p "$OUT"
began=$(date +%s)
step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

# background LOG CMD... runs CMD in the background with its output in LOG;
# join waits for every background job, prints their logs in the order they
# were started, and stops the demo if any failed.
pids=() logs=()
background() {
	local log=$1
	shift
	("$@") >"$log" 2>&1 &
	pids+=($!) logs+=("$log")
}
join() {
	local failed=0 i
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			[ "${1:-}" = quiet ] || cat "${logs[$i]}"
		else
			failed=1
			cat "${logs[$i]}" >&2
		fi
	done
	pids=() logs=()
	[ "$failed" = 0 ] || { echo "demo: a job above failed" >&2; exit 1; }
}
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# grid NAME TITLE COMPARE_ARGS... runs `gtl compare COMPARE_ARGS...` into
# $OUT/NAME: with JOBS > 1 as JOBS shards side by side (each resumable in
# $OUT/NAME-shards-of-JOBS/K), then joined with --merge.
grid() {
	local name=$1 title=$2
	shift 2
	if [ "$JOBS" = 1 ]; then
		step "$title" "$GTL" compare "$@" --out "$OUT/$name" --resume --quiet
		return
	fi
	local shards=$OUT/$name-shards-of-$JOBS k
	printf '\n== %s\n$ %s compare %s --shard K/%s --out %s/K --resume --quiet   (K = 1..%s, side by side)\n' \
		"$title" "$GTL" "$*" "$JOBS" "$shards" "$JOBS"
	for k in $(seq 1 "$JOBS"); do
		mkdir -p "$shards"
		background "$shards/$k.log" "$GTL" compare "$@" --shard "$k/$JOBS" --out "$shards/$k" --resume --quiet
	done
	join quiet
	step "   joined" "$GTL" compare --out "$OUT/$name" --force --merge "$(seq -s, -f "$shards/%g" 1 "$JOBS")"
}

# cached NAME DATA_KEY GTL_ARGS... trains a source model with
# `gtl train GTL_ARGS... --out DIR` unless the cache holds one made by the
# same arguments from the same data (DATA_KEY: a file describing it) with
# the same gtl version; links it to $OUT/NAME.
cached() {
	local name=$1 datakey=$2
	shift 2
	local home=${GTL_HOME:-$HOME/.cache/gtl}
	home=${home/#\~/$HOME}
	local key
	# the key leaves out where $OUT is: the data is keyed by its description
	key=$({ "$GTL" version; for a in "$@"; do printf '%s\n' "${a/#"$OUT"\//OUT/}"; done; cat "$datakey"; } | sha256sum | cut -c1-16)
	local dir="$home/demo-sources/$name-$key"
	if [ -f "$dir/best.safetensors" ]; then
		printf '\n== source %s: reusing %s (trained by the same command; delete it to retrain)\n' "$name" "$dir"
	else
		rm -rf "$dir.tmp"
		mkdir -p "$(dirname "$dir")"
		mkdir -p "$dir.tmp"
		printf '\n== source %s (cached as %s; its output in train.log there)\n$ %s train %s --out %s --quiet\n' "$name" "$dir" "$GTL" "$*" "$dir.tmp"
		"$GTL" train "$@" --out "$dir.tmp" --quiet >"$dir.tmp/train.log" 2>&1 || { tail -n 20 "$dir.tmp/train.log" >&2; exit 1; }
		grep '^best val accuracy' "$dir.tmp/train.log" || true
		printf '%s\n' "$@" >"$dir.tmp/demo-command.txt"
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
	fi
	ln -sfn "$dir" "$OUT/$name"
}

# 1. The general source: letters A-Z from the pinned fonts, 32 px.
step "1. source data: letters A-Z rendered from the pinned fonts" \
	"$GTL" glyphs --set letters --out "$OUT/letters" "${LETTERS_ARGS[@]}" --seed 1 --force
# The narrow source: Fashion-MNIST classes 0-4 only. The two sources train
# side by side (JOBS > 1).
echo fashion-mnist >"$OUT/fashion-mnist.key"
# source LOG ARGS... runs `cached ARGS...`, in the background when JOBS > 1.
source_model() {
	local log=$1
	shift
	if [ "$JOBS" = 1 ]; then cached "$@"; else background "$log" cached "$@"; fi
}
source_model "$OUT/letters-source.log" letters-source "$OUT/letters/glyphs.json" \
	--model resnet18 --data "$OUT/letters" --image-size 32 "${LETTERS_TRAIN[@]}" --seed 1
source_model "$OUT/narrow-source.log" narrow-source "$OUT/fashion-mnist.key" \
	--model resnet18 --data fashion-mnist --classes 0-4 "${NARROW_TRAIN[@]}" --seed 1
join
[ -n "${SOURCES_ONLY:-}" ] && exit 0
LETTERS="$OUT/letters-source/best.safetensors"
NARROW="$OUT/narrow-source/best.safetensors"

step "2. similar target: digits 0-9 rendered from the same fonts (classes the source never saw)" \
	"$GTL" glyphs --set digits --out "$OUT/digits" "${DIGITS_ARGS[@]}" --seed 2 --force
grid compare-digits "   compare on the digits" \
	--weights "$LETTERS" --data "$OUT/digits" --strategies "$STRATS" --shots "$SHOTS" --seeds "$SEEDS"

grid compare-fashion "3. different target: Fashion-MNIST, all 10 classes (photographs of clothing)" \
	--weights "$LETTERS" --data fashion-mnist --val "$VAL" --strategies "$STRATS" --shots "$SHOTS" --seeds "$SEEDS"

grid compare-narrow "4. narrow source: Fashion-MNIST 5-9 from the source trained on classes 0-4 only" \
	--weights "$NARROW" --data fashion-mnist --classes 5-9 --val "$VAL" --strategies "$STRATS" --shots "$SHOTS" --seeds "$SEEDS"

# 5. The advisor at every size of every target, one line each; the tables
# above say which strategy was best.
printf '\n== 5. the advisor (gtl recommend) at every size\n'
printf '%-10s %6s %8s %8s %7s  %s\n' target shots source random gain recommended
advise() {
	local name=$1 shots=$2
	shift 2
	local j
	j=$("$GTL" recommend "$@" --shots "$shots" --json)
	printf '%-10s %6s %s\n' "$name" "$shots" "$(printf '%s' "$j" | tr -d '\n ' |
		sed -E 's/.*"source_probe_accuracy":([^,]*),"random_probe_accuracy":([^,]*),"gain":([^,]*),.*"strategy":"([^"]*)".*/\1 \2 \3 \4/' |
		awk '{printf "%7.1f%% %7.1f%% %6.0f%%  %s", 100*$1, 100*$2, 100*$3, $4}')"
}
for sh in ${SHOTS//,/ }; do
	advise digits "$sh" --weights "$LETTERS" --data "$OUT/digits"
	advise fashion "$sh" --weights "$LETTERS" --data fashion-mnist
	advise narrow "$sh" --weights "$NARROW" --data fashion-mnist --classes 5-9
done | tee "$OUT/advice.txt"
step "   in full, for 20 digits per class" "$GTL" recommend --weights "$LETTERS" --data "$OUT/digits" --shots 20

printf '\n== demo finished in %ss; reports: %s/compare-{digits,fashion,narrow}/report.md\n' \
	"$(( $(date +%s) - began ))" "$OUT"
