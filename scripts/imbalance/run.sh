#!/bin/sh
# The README's imbalance table: resnet18 from scratch at 32 px, 6 epochs of
# 25 steps (batch 16), seeds 1-3, on make_folder.py's 1:20 folder, without
# and with --class-weights auto and --sampler balanced. Usage: run.sh OUT
# (GTL: the gtl binary, default bin/gtl). Each run's final report is in
# OUT/NAME-sSEED.txt.
set -eu
out=$1
gtl=${GTL:-bin/gtl}
/usr/bin/python3 "$(dirname "$0")/make_folder.py" "$out/imb"
for seed in 1 2 3; do
	for v in "plain:" "weights:--class-weights auto" "sampler:--sampler balanced" "both:--class-weights auto --sampler balanced"; do
		name=${v%%:*}
		flags=${v#*:}
		# shellcheck disable=SC2086 # flags split on purpose
		"$gtl" train --data "$out/imb" --model resnet18 --image-size 32 --epochs 6 --batch 16 --seed "$seed" --quiet $flags \
			--out "$out/$name-s$seed" >"$out/$name-s$seed.txt"
	done
done
