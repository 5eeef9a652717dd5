#!/usr/bin/env bash
# scripts/bench/e2e.sh: the end-to-end benchmark. One epoch of fine-tuning
# resnet18 with `gtl train` against the equivalent PyTorch script
# (train_ref.py), same data, same initial weights, same settings, and the
# feature-extractor mode, gtl's cached features against the naive path.
#
#   scripts/bench/e2e.sh          # generates $DATA and the weights if missing
#
# Environment: DATA (default /tmp/gtl-e2e-jpegs), CLASSES (5), TRAIN (64
# images per class), VAL (20 per class), REPS (3), THREADS (2: libtorch
# intra-op threads on both sides), WORKERS (2: gtl's loader goroutines,
# PyTorch's DataLoader processes), BATCH (32), SIZE (224).
#
# Modes, each with the same flags on both sides:
#   finetune  --freeze 2 (stem + layer1 frozen, batch norms in eval mode)
#             --augment light (RandomResizedCrop scale 0.35-1 + flip), SGD
#             momentum 0.9, lr 0.01, drop_last.
#   fe-naive  feature extractor: everything but the new head frozen, no
#             augmentation, the whole network forwarded every step (gtl
#             --freeze all --no-cache).
#   fe-cached gtl only: --freeze all, backbone features computed once.
# Runs alternate (gtl, PyTorch, gtl, ...) so that a busy machine disturbs
# both alike; each cell is the median of REPS runs. s/epoch is the training
# part of the epoch (gtl's metrics.jsonl seconds; PyTorch from creating the
# loader's iterator to the last step); wall is the whole process (start-up,
# loading, validation, gtl's checkpoints and report); CPU is user + system
# seconds of the process and its children.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${DATA:-/tmp/gtl-e2e-jpegs}
CLASSES=${CLASSES:-5}
TRAIN=${TRAIN:-64}
VAL=${VAL:-20}
REPS=${REPS:-3}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
BATCH=${BATCH:-32}
SIZE=${SIZE:-224}
PY=/usr/bin/python3

if [ ! -d "$DATA/train" ]; then
	echo "e2e.sh: generating $CLASSES classes x ($TRAIN train + $VAL val) JPEGs in $DATA" >&2
	all=$(mktemp -d)
	"$PY" "$root/scripts/bench/make_jpegs.py" "$all" $((CLASSES * (TRAIN + VAL))) "$CLASSES"
	for d in "$all"/*/; do
		c=$(basename "$d")
		mkdir -p "$DATA/train/$c" "$DATA/val/$c"
		i=0
		for f in $(ls "$d" | sort); do
			if [ "$i" -lt "$TRAIN" ]; then mv "$d/$f" "$DATA/train/$c/"; else mv "$d/$f" "$DATA/val/$c/"; fi
			i=$((i + 1))
		done
	done
	rm -rf "$all"
fi
init=$DATA/resnet18-init.pth
[ -f "$init" ] || "$PY" "$root/scripts/bench/train_ref.py" --save-init "$init"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gtl=$tmp/gtl
(cd "$root" && go build -o "$gtl" ./cmd/gtl)
res=$tmp/results.jsonl
now() { date +%s.%N; }

# rungtl MODE FLAGS...: one gtl train run, one JSON line in $res.
rungtl() {
	local mode=$1
	shift
	rm -rf "$tmp/out"
	local t0 t1
	t0=$(now)
	/usr/bin/time -f '%U %S' -o "$tmp/cpu" "$gtl" --threads "$THREADS" train -q --model resnet18 --weights "$init" \
		--data "$DATA" --workers "$WORKERS" --batch "$BATCH" --image-size "$SIZE" --epochs 1 --lr 0.01 \
		--out "$tmp/out" "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
	t1=$(now)
	"$PY" - "$mode" "$t0" "$t1" "$tmp/cpu" "$tmp/out/metrics.jsonl" >>"$res" <<'PYEOF'
import json, sys
mode, t0, t1, cpu, metrics = sys.argv[1:]
e = [json.loads(l) for l in open(metrics)]
u, s = map(float, open(cpu).read().split()[-2:])
print(json.dumps(dict(side="gtl", mode=mode, epoch_s=e[0]["seconds"], wall_s=float(t1) - float(t0), cpu_s=u + s,
                      val_accuracy=e[0]["val_accuracy"])))
PYEOF
}

# runpt MODE: one train_ref.py run, one JSON line in $res.
runpt() {
	local mode=$1 t0 t1
	t0=$(now)
	/usr/bin/time -f '%U %S' -o "$tmp/cpu" "$PY" "$root/scripts/bench/train_ref.py" --mode "$mode" --data "$DATA" \
		--weights "$init" --workers "$WORKERS" --threads "$THREADS" --batch "$BATCH" --size "$SIZE" >"$tmp/pt.json"
	t1=$(now)
	"$PY" - "$mode" "$t0" "$t1" "$tmp/cpu" "$tmp/pt.json" >>"$res" <<'PYEOF'
import json, sys
mode, t0, t1, cpu, out = sys.argv[1:]
r = json.loads(open(out).read())
u, s = map(float, open(cpu).read().split()[-2:])
print(json.dumps(dict(side="pytorch", mode=mode, epoch_s=r["epochs"][0]["seconds"], wall_s=float(t1) - float(t0),
                      cpu_s=u + s, val_accuracy=r["epochs"][0]["val_accuracy"])))
PYEOF
}

load_before=$(uptime)
for rep in $(seq "$REPS"); do
	echo "e2e.sh: rep $rep/$REPS ($(uptime | sed 's/.*load/load/'))" >&2
	rungtl finetune --freeze 2 --augment light
	runpt finetune
	rungtl fe-naive --freeze all --no-cache --augment none
	runpt fe-naive
	rungtl fe-cached --freeze all --augment none
done
load_after=$(uptime)

"$PY" - "$res" "$(nproc)" "$load_before" "$load_after" "$CLASSES" "$TRAIN" "$VAL" "$THREADS" "$WORKERS" "$BATCH" "$SIZE" <<'PYEOF'
import json, statistics, sys
res, cores, before, after, classes, train, val, threads, workers, batch, size = sys.argv[1:]
rows = [json.loads(l) for l in open(res)]
def med(side, mode, k):
    v = [r[k] for r in rows if r["side"] == side and r["mode"] == mode]
    return statistics.median(v), len(v)
print(f"machine: {cores} cores; data: {classes} classes x {train} train + {val} val 500x375 q90 JPEGs at {size} px; "
      f"batch {batch}, threads {threads}, workers {workers}; median of {med('gtl', 'finetune', 'wall_s')[1]} runs, one epoch each")
print(f"load before:{before.split('load')[-1].split(':', 1)[-1]}; after:{after.split('load')[-1].split(':', 1)[-1]}")
print(f"{'mode':<34} {'gtl s/epoch':>11} {'PyTorch s/epoch':>15} {'ratio':>6} {'gtl wall':>9} {'PyTorch wall':>12} {'ratio':>6} {'gtl CPU-s':>9} {'PyTorch CPU-s':>13} {'ratio':>6}")
for mode, name in (("finetune", "fine-tune freeze-2 light aug"), ("fe-naive", "feature extractor naive")):
    g = [med("gtl", mode, k)[0] for k in ("epoch_s", "wall_s", "cpu_s")]
    p = [med("pytorch", mode, k)[0] for k in ("epoch_s", "wall_s", "cpu_s")]
    print(f"{name:<34} {g[0]:>11.2f} {p[0]:>15.2f} {p[0]/g[0]:>6.2f} {g[1]:>9.2f} {p[1]:>12.2f} {p[1]/g[1]:>6.2f} {g[2]:>9.2f} {p[2]:>13.2f} {p[2]/g[2]:>6.2f}")
c = [med("gtl", "fe-cached", k)[0] for k in ("epoch_s", "wall_s", "cpu_s")]
n = [med("gtl", "fe-naive", k)[0] for k in ("epoch_s", "wall_s", "cpu_s")]
print(f"{'feature extractor: gtl cached':<34} {c[0]:>11.3f} {'(gtl naive)':>15} {n[0]/c[0]:>5.0f}x {c[1]:>9.2f} {'(gtl naive)':>12} {n[1]/c[1]:>6.2f} {c[2]:>9.2f} {'(gtl naive)':>13} {n[2]/c[2]:>6.2f}")
print("ratio: PyTorch / gtl (above 1: gtl faster); last row: gtl naive / gtl cached")
acc = {(r["side"], r["mode"]): r["val_accuracy"] for r in rows}
print("val accuracy after the epoch (last run): " + ", ".join(f"{s} {m} {100*a:.0f}%" for (s, m), a in sorted(acc.items())))
PYEOF
