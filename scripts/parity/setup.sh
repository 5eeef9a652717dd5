#!/usr/bin/env bash
# scripts/parity/setup.sh: install what the parity tests need to make their
# reference outputs (Debian's python3-torchvision, which brings python3-torch
# on the same libtorch 1.13, python3-sklearn for the metrics, and python3-pandas, which reads
# metrics.jsonl in the early-stopping test). Test set-up only: gtl itself never needs Python.
set -euo pipefail
if /usr/bin/python3 -c 'import torchvision, sklearn, pandas' 2>/dev/null; then
	exit 0
fi
[ "${GTL_SKIP_APT:-}" != 1 ] || { echo "parity: error: python3-torchvision, python3-sklearn or python3-pandas missing; install them: sudo apt-get install python3-torchvision python3-sklearn python3-pandas" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "parity: installing python3-torchvision, python3-sklearn and python3-pandas (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends python3-torchvision python3-sklearn python3-pandas >/dev/null 2>&1 ||
	{ $sudo apt-get update -q >/dev/null 2>&1 || true; $sudo apt-get install -y -q --no-install-recommends python3-torchvision python3-sklearn python3-pandas >/dev/null; } ||
	{ echo "parity: error: apt-get could not install python3-torchvision, python3-sklearn and python3-pandas" >&2; exit 1; }
