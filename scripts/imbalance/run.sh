#!/bin/sh
# The README's imbalance table: resnet18 from scratch at 32 px, 6 epochs of
# 25 steps (batch 16), seed 1, on make_folder.py's 1:20 folder, without and
# with --class-weights auto and --sampler balanced. Usage: run.sh OUT
set -eu
out=$1
gtl=${GTL:-bin/gtl}
/usr/bin/python3 "$(dirname "$0")/make_folder.py" "$out/imb"
for v in "plain:" "weights:--class-weights auto" "sampler:--sampler balanced"; do
	name=${v%%:*}
	flags=${v#*:}
	# shellcheck disable=SC2086 # flags split on purpose
	"$gtl" train --data "$out/imb" --model resnet18 --image-size 32 --epochs 6 --batch 16 --seed 1 --quiet $flags --out "$out/$name" >"$out/$name.txt"
done
