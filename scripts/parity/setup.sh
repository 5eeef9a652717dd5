#!/usr/bin/env bash
# scripts/parity/setup.sh: install what the parity tests need to make their
# reference outputs (Debian's python3-torchvision, which brings python3-torch
# on the same libtorch 1.13, and python3-sklearn for the metrics). Test set-up only: gtl itself never needs Python.
set -euo pipefail
if /usr/bin/python3 -c 'import torchvision, sklearn' 2>/dev/null; then
	exit 0
fi
[ "${GTL_SKIP_APT:-}" != 1 ] || { echo "parity: error: python3-torchvision or python3-sklearn missing; install them: sudo apt-get install python3-torchvision python3-sklearn" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "parity: installing python3-torchvision and python3-sklearn (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends python3-torchvision python3-sklearn >/dev/null 2>&1 ||
	{ $sudo apt-get update -q >/dev/null 2>&1 || true; $sudo apt-get install -y -q --no-install-recommends python3-torchvision python3-sklearn >/dev/null; } ||
	{ echo "parity: error: apt-get could not install python3-torchvision and python3-sklearn" >&2; exit 1; }
