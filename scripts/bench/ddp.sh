#!/usr/bin/env bash
# scripts/bench/ddp.sh: throughput of data-parallel training on one machine:
# 2 ranks × 1 thread (gtl train --nproc-per-node 2, c10d/Gloo over loopback)
# against 1 process × 2 threads, same global batch, same images.
#
#   scripts/bench/ddp.sh            # GTL=bin/gtl, ROUNDS=2
#
# Each side trains resnet18 from scratch on fashion-mnist (classes 0-4, 128
# images per class, 32 px) for 3 epochs; the first epoch is a warm-up, the
# others are timed (metrics.jsonl's seconds per epoch, which include the
# sharded validation). Sides alternate ROUNDS times; the median is printed.
# Numbers depend on the machine's load: say what else was running.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GTL=${GTL:-$root/bin/gtl}
ROUNDS=${ROUNDS:-2}
BATCH=${BATCH:-32} # global
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(train -q --model resnet18 --classes 0-4 --shots 128 --val 200 --epochs 3 --image-size 32)
images=$((5 * 128))

# epoch_seconds DIR: the timed epochs' mean seconds, from metrics.jsonl.
epoch_seconds() {
	python3 -c 'import json,sys; s=[json.loads(l)["seconds"] for l in open(sys.argv[1])][1:]; print(sum(s)/len(s))' "$1/metrics.jsonl"
}
one=() two=()
for r in $(seq "$ROUNDS"); do
	"$GTL" --threads 2 "${common[@]}" --batch "$BATCH" --out "$out/one$r" >/dev/null
	one+=("$(epoch_seconds "$out/one$r")")
	"$GTL" --threads 1 "${common[@]}" --batch $((BATCH / 2)) --nproc-per-node 2 --out "$out/two$r" >/dev/null
	two+=("$(epoch_seconds "$out/two$r")")
done
python3 - "$images" "${one[*]}" "${two[*]}" <<'EOF'
import statistics, sys
n = int(sys.argv[1])
one = [float(x) for x in sys.argv[2].split()]
two = [float(x) for x in sys.argv[3].split()]
a, b = statistics.median(one), statistics.median(two)
print(f"1 rank  x 2 threads: {n/a:8.1f} img/s  (epoch {a:.2f} s; runs {', '.join(f'{x:.2f}' for x in one)})")
print(f"2 ranks x 1 thread : {n/b:8.1f} img/s  (epoch {b:.2f} s; runs {', '.join(f'{x:.2f}' for x in two)})")
print(f"ratio (2 ranks / 1 rank): {a/b:.2f}")
EOF
