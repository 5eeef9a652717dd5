#!/usr/bin/env bash
# scripts/onnx/setup.sh: install what the ONNX export tests check against:
# Debian's python3-onnx (the ONNX checker) and ONNX Runtime from npm
# (onnxruntime-node, whose CPU library ships in the package; its CUDA download
# is skipped) under .cache/ort in the checkout (ORT_DIR overrides).
# Test set-up only: gtl itself never needs Python or Node.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
	[ "${GTL_SKIP_APT:-}" != 1 ] || { echo "onnx: error: python3-onnx missing; install it: sudo apt-get install python3-onnx" >&2; exit 1; }
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	echo "onnx: installing python3-onnx (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -q --no-install-recommends python3-onnx >/dev/null 2>&1 ||
		{ $sudo apt-get update -q >/dev/null 2>&1 || true; $sudo apt-get install -y -q --no-install-recommends python3-onnx >/dev/null; } ||
		{ echo "onnx: error: apt-get could not install python3-onnx" >&2; exit 1; }
fi
if ! command -v node >/dev/null; then
	echo "onnx: node not found: the ONNX Runtime tests will skip (install nodejs and npm to run them)" >&2
	exit 0
fi
dir="${ORT_DIR:-.cache/ort}"
if [ ! -f "$dir/node_modules/onnxruntime-node/package.json" ]; then
	echo "onnx: installing onnxruntime-node (npm) into $dir" >&2
	mkdir -p "$dir"
	[ -f "$dir/package.json" ] || echo '{"name": "gtl-ort", "private": true}' >"$dir/package.json"
	(cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent onnxruntime-node@1.31.1 >/dev/null) ||
		{ echo "onnx: error: npm could not install onnxruntime-node" >&2; exit 1; }
fi
