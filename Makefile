# vipkeeper: the two commands a newcomer needs are `make lab` and `make test`.
SHELL   := /bin/bash
GO      ?= go
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Platforms of the container image (make image).
PLATFORMS ?= linux/amd64 linux/arm64

.PHONY: all build bins deps test test-hack vet lab bench generate manifests image clean

all: build

## build: bin/vipkeeper (stamped with VERSION) and bin/vipkeeper-lab
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/vipkeeper ./cmd/vipkeeper
	$(GO) build -o bin/vipkeeper-lab ./cmd/vipkeeper-lab

## deps: system packages the tests need (iproute2, ...), installed only when missing
deps:
	bash hack/deps.sh

## bins: etcd and kube-apiserver from their Go module sources into bin/ (skipped when up to date)
bins:
	bash hack/build.sh

vet:
	$(GO) vet $(PKGS)

## test: every test, as CI runs it (root runs the network-namespace tests too), then the
## tests of the chart (hack/helm: deploy/ equals the rendered chart, helm lint) and of the image (hack/image)
test: deps bins vet build
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) test-hack

test-hack:
	cd hack/helm && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd hack/image && $(GO) vet ./... && $(GO) test -count=1 ./...

## lab: the local lab: real control plane, simulated nodes, live VIP view (needs root).
## BGP mode with a router: make lab LAB_FLAGS='--bgp frr' (or bird; docs/bgp.md)
LAB_FLAGS ?=
lab: deps bins build
	./bin/vipkeeper-lab $(LAB_FLAGS)

## bench: chaos scenarios (default and fast timing) and scale runs, report in out/bench (needs root;
## takes about half an hour). Pick with BENCH_FLAGS, e.g. BENCH_FLAGS='--only leader-sigkill --timings fast --scale none'
BENCH_FLAGS ?=
bench: deps bins build
	./bin/vipkeeper-lab bench --out out/bench $(BENCH_FLAGS)

## generate: deepcopy and the VIPPool CRD from api/ (controller-gen via go run; output committed)
generate:
	bash hack/gen.sh

## manifests: deploy/ rendered from charts/vipkeeper (Helm Go library in hack/helm)
manifests:
	cd hack/helm && $(GO) run . lint && $(GO) run . template

## image: static binaries for $(PLATFORMS) and an OCI image index in bin/image (OCI layout)
## and bin/vipkeeper-image.tar (oci-archive), without a container engine (hack/image)
image:
	for p in $(PLATFORMS); do \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" \
			-o bin/$${p%/*}-$${p#*/}/vipkeeper ./cmd/vipkeeper || exit 1; \
	done
	cd hack/image && $(GO) run . --bin-dir ../../bin --layout ../../bin/image --archive ../../bin/vipkeeper-image.tar \
		--version $(VERSION) --revision "$$(git rev-parse HEAD 2>/dev/null)" --platforms "$$(echo $(PLATFORMS) | tr ' ' ,)"

clean:
	rm -rf bin/ out/
