#!/usr/bin/env bash
# scripts/gpu/run.sh: on a GPU machine with PyTorch (CUDA) and a C++
# compiler, from an unpacked bundle (scripts/gpu/bundle.sh): build the wrapper
# library against the libtorch inside the torch Python package, then check
# the install with gtl doctor. Output goes to stdout; OUT=dir also keeps the
# build log there.
set -euo pipefail
bundle=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3}
if [ -z "${LIBTORCH:-}" ]; then
	LIBTORCH=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))') ||
		{ echo "run.sh: error: no torch in $PYTHON; set LIBTORCH to a libtorch folder" >&2; exit 1; }
fi
export LIBTORCH
echo "== $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi'); torch $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
start=$(date +%s)
STUBOPS="$bundle/bin/stubops" bash "$bundle/scripts/build-wrapper.sh" "$bundle/wrapper-src" "$bundle/lib"
echo "== wrapper built in $(($(date +%s) - start)) s; disabled ops: $(wc -l <"$bundle/lib/disabled-ops.txt")"
[ -z "${OUT:-}" ] || cp "$bundle/lib/build.log" "$bundle/lib/disabled-ops.txt" "$OUT/" 2>/dev/null || true
# The bundle's library first, whatever paths the binary remembers from its build.
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$bundle/bin/gtl" version
"$bundle/bin/gtl" doctor
