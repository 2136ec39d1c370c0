# kubectl-xr — see README.md. All tools come from the Go module proxy; nothing is downloaded
# from anywhere else.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/kubexr/kubectl-xr/internal/version.Version=$(VERSION)
BIN := bin
# The image's provenance: the commit and its time (the time keeps rebuilds identical).
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_FLAGS = -version $(VERSION) -revision $(REVISION) -created $(SOURCE_DATE_EPOCH)
GO_TEST_FLAGS ?=

.PHONY: all build generate test test-gateways bench record-traces fuzz demo demo-down dist release image push lint testbins clean

all: build

build: ## Build kubectl-xr, xr-webhook and xr-capi-peerer into bin/
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

generate: ## Regenerate deepcopy (api/...) and the LatencyClass CRD (api/v1alpha1 only: api/output kinds are never stored) with controller-gen (built from the module proxy).
	go build -C hack/tools/controller-gen -o $(CURDIR)/$(BIN)/controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
	$(BIN)/controller-gen object paths=./api/...
	$(BIN)/controller-gen crd paths=./api/v1alpha1/... output:crd:artifacts:config=manifests/crd

testbins: ## Build the real Kubernetes test binaries (cached outside the checkout by version).
	hack/testbins.sh >/dev/null

test: testbins ## Unit tests (with -race) and integration tests on real control planes.
	hack/test.sh $(GO_TEST_FLAGS)

test-gateways: testbins ## Liqo's real gateways over the delay relay (root and /dev/net/tun; not in make test: see README).
	source hack/testbins-env.sh && go test -tags gateways -count=1 -v -timeout 15m ./test/gateways/

fuzz: testbins ## Every fuzzer for FUZZTIME (default 60s) each; failing inputs land in testdata/fuzz.
	hack/fuzz.sh

bench: testbins ## Benchmarks (see BENCHMARKS.md): decision cost, xr-webhook's pod handler against Liqo's, admission overhead through a real API server, placement quality, the RTT estimator on recorded gateway traces, scale, peer list against liqoctl info, Cluster API provisioning and automatic peering times (figures in bench/results/).
	mkdir -p bench/results
	go test -run '^$$' -bench . -benchmem ./policy/... | tee bench/results/decision.txt
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/handlers.json \
		go test -count=1 -timeout 60m -run '^TestPodHandlerAgainstLiqos$$' -v ./webhook | grep -E '^\s+(\||handler_compare)|^(ok|FAIL|---)'
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/admission.json \
		go test -count=1 -timeout 60m -run '^TestAdmissionOverheadThroughTheAPIServer$$' -v ./webhook | grep -E '^\s+(\||admission_overhead)|^(ok|FAIL|---)'
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/admission-binary.json \
		go test -count=1 -timeout 60m -run '^TestAdmissionOverheadOfTheBinary$$' -v ./cmd/xr-webhook | grep -E '^\s+(\||admission_bench)|^(ok|FAIL|---)'
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/quality.json \
		go test -count=1 -timeout 60m -run '^TestPlacementQualityAgainstLiqosDefault$$' -v ./webhook | grep -E '^\s+(\||placement_quality)|^(ok|FAIL|---)'
	KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/estimator.json \
		go test -count=1 -run '^TestAdoptedEstimatorOnRecordedGatewayTraces$$' -v ./test/rttreplay | grep -E '^\s+(\||[0-9]+ reports)|^(ok|FAIL|---)'
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/scale.json \
		go test -count=1 -timeout 60m -run '^TestScaleWithManyVirtualNodesAndPods$$' -v ./cmd/xr-webhook | grep -E '^\s+(\||scale_bench)|^(ok|FAIL|---)'
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/peerlist.json \
		go test -count=1 -timeout 30m -run '^TestPeerListAgainstLiqoctlInfo$$' -v ./cmd/kubectl-xr | grep -E '^\s+(\||peer_list)|^(ok|FAIL|---)'
	source hack/testbins-env.sh && KUBEXR_BENCH=1 KUBEXR_BENCH_OUT=$(CURDIR)/bench/results/provisioning.json \
		go test -count=1 -timeout 30m -run '^TestProvisioningTimes$$' -v ./test/capilocal | grep -E '^\s+(\||provision)|^(ok|FAIL|---)'

record-traces: testbins ## Record Liqo's real gateways' latency reports (~40 min, root): OUT=file (default bench/results/gateway-traces.csv); see BENCHMARKS.md §5.
	mkdir -p bench/results
	source hack/testbins-env.sh && go run ./test/gateways/record-traces -out $(or $(OUT),$(CURDIR)/bench/results/gateway-traces.csv)

DEMO_DIR ?= $(CURDIR)/.demo

demo: ## The XR scenario end to end on a local sandbox (DEMO_KEEP=0 stops it at the end).
	@echo "==> test binaries (Kubernetes, Liqo, krew; built once, cached outside the checkout)"
	@hack/testbins.sh >/dev/null
	@echo "==> building kubectl-xr, xr-webhook and xr-demo into $(BIN)/"
	@go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...
	@go build -o $(BIN)/xr-demo ./test/demo
	@source hack/testbins-env.sh && $(BIN)/xr-demo run --dir $(DEMO_DIR) --bin $(BIN)

demo-down: ## Stop the sandbox make demo left running.
	@go build -o $(BIN)/xr-demo ./test/demo
	@source hack/testbins-env.sh && $(BIN)/xr-demo down --dir $(DEMO_DIR)

dist: ## Cross-build the krew archives, sha256s and manifest into dist/ (VERSION=vX.Y.Z, semver).
	hack/dist.sh $(VERSION)

release: ## Everything a release needs into dist/ (VERSION=vX.Y.Z): krew archives, sha256s, manifest, install.yaml, the image tarballs, RELEASE.md.
	hack/release.sh $(VERSION)

image: ## xr-webhook's image (linux/amd64+arm64, non-root, no Docker): dist/xr-webhook_$(VERSION).oci.tar and a docker-archive per platform.
	go run ./hack/image $(IMAGE_FLAGS) -out dist

push: ## Build the image and push its index to IMAGE (REGISTRY/REPO; tagged VERSION; your docker login's credentials).
	@if [[ -z "$(IMAGE)" ]]; then echo "push: set IMAGE=REGISTRY/REPO, e.g. make push IMAGE=ghcr.io/you/xr-webhook" >&2; exit 2; fi
	go run ./hack/image $(IMAGE_FLAGS) -out dist -push $(IMAGE)

lint: ## gofmt check and go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

clean: ## Remove build output (the test binary cache is kept; see README).
	rm -rf $(BIN) dist
