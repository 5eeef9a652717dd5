#!/usr/bin/env bash
# scripts/bench/data.sh: the data-pipeline benchmark. gtl's loader (JPEG
# decode + random resized crop 224 + flip + normalise into batches of 64)
# against torchvision's DataLoader with the same transforms and the same
# number of workers, on an ImageFolder of realistic 500x375 quality-90
# JPEGs. Runs alternate (gtl, torchvision, gtl, ...) so that a busy machine
# disturbs both alike; each cell is the median of REPS runs.
#
#   scripts/bench/data.sh                 # generates $DATA if missing
# Environment: DATA (default /tmp/gtl-bench-jpegs), N images to generate
# (1000), REPS (3), EPOCHS timed per run (2), WORKERS ("1 2").
#
# Columns: img/s is wall-clock throughput; per core divides it by the
# workers; img/CPU-s divides images by the CPU time all processes of the
# side used (main process and workers), which a shared machine disturbs
# least.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${DATA:-/tmp/gtl-bench-jpegs}
N=${N:-1000}
REPS=${REPS:-3}
EPOCHS=${EPOCHS:-2}
WORKERS=${WORKERS:-1 2}
PY=/usr/bin/python3

if [ ! -d "$DATA" ]; then
	echo "data.sh: generating $N JPEGs in $DATA" >&2
	"$PY" "$root/scripts/bench/make_jpegs.py" "$DATA" "$N"
fi
gtl=$(mktemp -d)/gtl
(cd "$root" && go build -o "$gtl" ./cmd/gtl)
out=$(mktemp)
for rep in $(seq "$REPS"); do
	for w in $WORKERS; do
		echo "data.sh: rep $rep, $w workers" >&2
		printf '{"side":"gtl","r":%s}\n' "$("$gtl" bench-data --data "$DATA" --workers "$w" --batch 64 --epochs "$EPOCHS" --json)" >>"$out"
		printf '{"side":"tv","r":%s}\n' "$("$PY" "$root/scripts/bench/data_ref.py" --data "$DATA" --workers "$w" --batch 64 --epochs "$EPOCHS" --json)" >>"$out"
	done
done
"$PY" - "$out" "$(nproc)" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda side, w, k: statistics.median(r["r"][k] for r in rows if r["side"] == side and r["r"]["workers"] == w)
print(f"machine: {sys.argv[2]} cores; median of {sum(1 for r in rows if r['side'] == 'gtl') // len({r['r']['workers'] for r in rows})} runs each")
print(f"{'workers':>7} {'gtl img/s':>10} {'tv img/s':>9} {'ratio':>6} {'gtl/core':>9} {'tv/core':>8} {'gtl img/CPU-s':>14} {'tv img/CPU-s':>13} {'ratio':>6}")
for w in sorted({r["r"]["workers"] for r in rows}):
    g, t = med("gtl", w, "img_per_s"), med("tv", w, "img_per_s")
    gc, tc = med("gtl", w, "img_per_cpu_s"), med("tv", w, "img_per_cpu_s")
    print(f"{w:>7} {g:>10.1f} {t:>9.1f} {g/t:>6.2f} {g/w:>9.1f} {t/w:>8.1f} {gc:>14.1f} {tc:>13.1f} {gc/tc:>6.2f}")
PYEOF
rm -f "$out"
