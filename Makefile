# gtl's build. `make test` and `make demo` work on a fresh Debian 12 machine
# with Go: scripts/setup.sh installs and builds everything else first.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all setup test-setup build test test-all demo vet clean fuzz fuzz-short soak

all: build

# Packages, gotch's patched copy and the wrapper library (.build/); fast when
# nothing changed.
setup:
	@bash scripts/setup.sh

# bin/gtl finds .build/lib/libgtltorch.so through an rpath: run it from anywhere.
build: setup
	$(GO) build -o bin/gtl ./cmd/gtl

vet: setup
	$(GO) vet ./...

# Test set-up: python3-torchvision makes the parity tests' reference outputs.
test-setup: setup
	@bash scripts/parity/setup.sh
	@bash scripts/onnx/setup.sh

# What CI runs: set-up, vet, and the test suite on real data at a small size
# (-short: torchvision parity for a few light architectures).
test: test-setup vet
	$(GO) test -short -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory fuzz-short

# Fuzz targets for every parser of outside data (package:target). `go test`
# runs each one's seed corpus; `make fuzz` mutates for FUZZTIME each and
# prints the executions (GTL_FUZZ_COUNT_DIR, see internal/fuzzcount).
# Packages that link libtorch build an instrumented gotch the first time
# (minutes); later runs reuse Go's build cache.
FUZZTIME ?= 60s
FUZZ_PURE := ./npy:FuzzDecode ./vision/datasets:FuzzReadIDXImages \
	./vision/datasets:FuzzReadIDXLabels ./vision/datasets:FuzzParseClasses ./vision/datasets:FuzzEscapeName
FUZZ_TARGETS := $(FUZZ_PURE) ./vision/transforms:FuzzDecode \
	./weights:FuzzSafetensorsHeader ./weights:FuzzScanPickle ./weights:FuzzReadPth ./vision:FuzzReadMeta \
	./strategies:FuzzParseShots ./strategies:FuzzParseList ./finetune:FuzzFlagLists
fuzz: setup
	@bash scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

# Memory over time (not part of make test): a 30-run compare grid and 50
# epochs of training must not grow RSS by more than 1% per 10 runs/epochs.
# About 1.5 minutes on 2 idle cores (squeezenet1_1 at 32 px); prints the
# RSS samples and the slopes. WARMUP=N skips the first N samples (5).
soak: build
	bash scripts/soak.sh

# 2000 mutated inputs per pure-Go parser (seconds; part of make test).
fuzz-short:
	@bash scripts/fuzz.sh 2000x $(FUZZ_PURE)

# The whole suite: parity for every architecture, the race detector on the
# pure-Go packages, and the full-size demo. (75 architectures, some of them
# ViT-L and RegNetY-128GF: vision's parity alone needs more than an hour on
# 2 cores, hence the long timeout; one architecture:
# go test ./vision/models -run 'Test(TorchvisionParity|ScratchInit|PublishedParamCounts)/^ARCH$$'.)
test-all: test-setup vet build
	$(GO) test -count=1 -timeout 240m ./...
	$(GO) test -count=1 -race ./env/... ./vision/datasets/... ./vision/loader/... ./vision/augment/... ./chart/... ./scripts/stubops/...
	./bin/gtl smoke --quiet
	bash scripts/demo.sh

# The transfer-learning demo (DEMO=quick for a 5-minute version): a general
# source (resnet18 on rendered letters) and a narrow one (Fashion-MNIST 0-4),
# gtl compare on digits, Fashion-MNIST and Fashion-MNIST 5-9, gtl recommend
# at every size (README, "What the demo shows"; JOBS=2 runs at once).
demo: build
	bash scripts/demo.sh

clean:
	rm -rf bin .build
