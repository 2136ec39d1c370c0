# kubectl-xr — see README.md. All tools come from the Go module proxy; nothing is downloaded
# from anywhere else.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/kubexr/kubectl-xr/internal/version.Version=$(VERSION)
BIN := bin
GO_TEST_FLAGS ?=

.PHONY: all build generate test bench demo demo-down dist lint testbins clean

all: build

build: ## Build kubectl-xr and xr-webhook into bin/.
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

generate: ## Regenerate the LatencyClass deepcopy and CRD with controller-gen (built from the module proxy).
	go build -C hack/tools/controller-gen -o $(CURDIR)/$(BIN)/controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
	$(BIN)/controller-gen object paths=./api/...
	$(BIN)/controller-gen crd paths=./api/... output:crd:artifacts:config=manifests/crd

testbins: ## Build the real Kubernetes test binaries (cached outside the checkout by version).
	hack/testbins.sh >/dev/null

test: testbins ## Unit tests (with -race) and integration tests on real control planes.
	hack/test.sh $(GO_TEST_FLAGS)

bench: ## Benchmarks with allocation counts.
	go test -run '^$$' -bench . -benchmem ./policy/...

demo: ## The XR scenario end to end (not there yet).
	@echo "make demo: not implemented yet (see the open issue 'make demo'); nothing was started." >&2
	@exit 1

demo-down:
	@echo "make demo-down: nothing to stop (make demo is not implemented yet)." >&2

dist: ## Cross-build release binaries into dist/.
	hack/dist.sh $(VERSION)

lint: ## gofmt check and go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

clean: ## Remove build output (the test binary cache is kept; see README).
	rm -rf $(BIN) dist
