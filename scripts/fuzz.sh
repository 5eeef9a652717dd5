#!/usr/bin/env bash
# scripts/fuzz.sh FUZZTIME pkg:Target...: runs each fuzz target for FUZZTIME
# (one worker: the machine is shared) and prints its executions, counted by
# internal/fuzzcount in every worker process. A crash fails the script and
# leaves the input under the package's testdata/fuzz/Target/.
set -euo pipefail
shopt -s nullglob
fuzztime=$1
shift
counts=$(mktemp -d)
trap 'rm -rf "$counts"' EXIT
for t in "$@"; do
	pkg=${t%%:*} name=${t##*:}
	GTL_FUZZ_COUNT_DIR=$counts go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -parallel 1 >"$counts/log" 2>&1 || {
		cat "$counts/log"
		echo "fuzz: $pkg $name FAILED" >&2
		exit 1
	}
	# The count file of a target is named after the exec counter's label.
	files=("$counts"/Fuzz*)
	n=0
	if ((${#files[@]})); then
		n=$(awk '{s+=$1} END {print s+0}' "${files[@]}")
		rm -f "${files[@]}"
	fi
	printf 'fuzz: %-22s %-24s %6s  %9d executions (at least)\n' "$pkg" "$name" "$fuzztime" "$n"
done
