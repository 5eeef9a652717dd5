#!/usr/bin/env bash
# scripts/soak.sh (make soak): memory over time. A 30-run gtl compare grid
# (linear probes, 30 seeds)
# and 50 epochs of gtl train, both tiny (squeezenet1_1 at 32 px on a few
# Fashion-MNIST images); the resident set size is read from /proc after
# every finished run or epoch, a least-squares line is fitted after the
# first WARMUP points, and the slope must stay under 1% of the mean RSS per
# 10 runs or epochs. Prints the samples and the slope.
#
# A leak only ever adds memory; the Go runtime also gives memory back (its
# scavenger returns freed heap pages after a collection). Measured with
# GODEBUG=gctrace=1,scavtrace=1 on the compare below at the default GOGC: the
# live Go heap stays 24 MB from run 1 to 30 (7 collections), and after run
# 13 the scavenger returns 39,880 KiB, the pages of the 89 MB start-up peak:
# RSS drops 36 MiB there; at GOGC=10 there is no such drop. One such drop
# in a 25-point fit decides its slope (-7%/10 runs where the series is flat
# on both sides of it) and could hide real growth, so the line is fitted
# within the segments between drops of more than DROP% (default 2) from one
# sample to the next: one slope, each segment its own level (least squares
# with an intercept per segment). The plain slope is printed beside it.
set -euo pipefail
gtl=${GTL:-./bin/gtl}
warmup=${WARMUP:-5}
drop=${DROP:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# rss_per_line CMD... : runs CMD, and after each stdout line matching
# $match prints "index rss_kb".
rss_per_line() {
	"$@" >"$dir/out" 2>"$dir/err" &
	local pid=$! i=0
	: >"$dir/samples"
	tail -n +1 -F --pid=$pid "$dir/out" 2>/dev/null | while IFS= read -r line; do
		if [[ $line =~ $match ]]; then
			i=$((i + 1))
			rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status 2>/dev/null || true)
			[[ -n $rss ]] && echo "$i $rss" >>"$dir/samples"
		fi
	done
	wait $pid || { cat "$dir/err" >&2; return 1; }
}

# slope NAME UNIT: prints the samples (MiB), fits them after warm-up and
# checks the growth.
slope() {
	awk '{ printf "%s%.1f", (NR > 1 ? " " : "samples (MiB): "), $2 / 1024 } END { print "" }' "$dir/samples"
	awk -v w="$warmup" -v drop="$drop" -v name="$1" -v unit="$2" '
		{ x[NR] = $1; y[NR] = $2 }
		END {
			n = 0
			for (i = w + 1; i <= NR; i++) { n++; sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
			if (n < 3) { print name ": too few samples (" NR ")"; exit 1 }
			plain = (n * sxy - sx * sy) / (n * sxx - sx * sx)
			mean = sy / n
			# Segments: a new one starts after each drop of more than drop%.
			seg = 0; drops = ""
			for (i = w + 1; i <= NR; i++) {
				if (i > w + 1 && y[i] < y[i - 1] * (1 - drop / 100)) {
					seg++
					drops = drops sprintf(" %+.1f MiB at %s %d;", (y[i] - y[i - 1]) / 1024, unit, x[i])
				}
				s[i] = seg; cnt[seg]++; mx[seg] += x[i]; my[seg] += y[i]
			}
			for (k = 0; k <= seg; k++) { mx[k] /= cnt[k]; my[k] /= cnt[k] }
			num = 0; den = 0
			for (i = w + 1; i <= NR; i++) {
				k = s[i]; num += (x[i] - mx[k]) * (y[i] - my[k]); den += (x[i] - mx[k]) ^ 2
			}
			if (den == 0) { print name ": no segment of two samples or more between drops"; exit 1 }
			b = num / den
			pct = 100 * 10 * b / mean
			printf "%s: %d samples, RSS %.0f MiB after warm-up (mean), slope %+.1f KiB per %s = %+.2f%% per 10 %ss", name, NR, mean / 1024, b, unit, pct, unit
			if (seg == 0) print ""
			else printf " (fitted within %d segments, split at %d drop(s) of more than %s%%:%s plain fit %+.2f%% per 10 %ss)\n", seg + 1, seg, drop, drops, 100 * 10 * plain / mean, unit
			if (pct > 1) { print name ": FAIL: memory grows more than 1% per 10 " unit "s"; exit 1 }
		}' "$dir/samples"
}

src="$dir/src.safetensors"
"$gtl" export -q --model squeezenet1_1 --num-classes 5 --format safetensors --out "$src" >/dev/null

match='shots seed [0-9]+:'
rss_per_line "$gtl" compare -q --weights "$src" --classes 5-9 --strategies linear --shots 5 --seeds 30 \
	--image-size 32 --val 100 --out "$dir/cmp"
cp "$dir/samples" "$dir/compare.samples"
slope "compare (30 runs)" run

match='^[0-9]+ +[0-9]'
rss_per_line "$gtl" train -q --model squeezenet1_1 --classes 0-2 --shots 10 --val 30 --epochs 50 --image-size 32 --out "$dir/train"
slope "train (50 epochs)" epoch
