# vipkeeper: the two commands a newcomer needs are `make lab` and `make test`.
SHELL := /bin/bash
GO    ?= go
PKGS  ?= ./...

.PHONY: all build bins deps test vet lab bench generate clean

all: build

## build: the vipkeeper binary into bin/
build:
	$(GO) build -o bin/vipkeeper ./cmd/vipkeeper

## deps: system packages the tests need (iproute2, ...), installed only when missing
deps:
	bash hack/deps.sh

## bins: etcd and kube-apiserver from their Go module sources into bin/ (skipped when up to date)
bins:
	bash hack/build.sh

vet:
	$(GO) vet $(PKGS)

## test: every test, as CI runs it (root runs the network-namespace tests too)
test: deps bins vet build
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## lab: the local lab: real control plane, simulated nodes, live VIP view (needs root).
## BGP mode with a router: make lab LAB_FLAGS='--bgp frr' (or bird; docs/bgp.md)
LAB_FLAGS ?=
lab: deps bins build
	./bin/vipkeeper lab $(LAB_FLAGS)

## bench: chaos scenarios (default and fast timing) and scale runs, report in out/bench (needs root;
## takes about half an hour). Pick with BENCH_FLAGS, e.g. BENCH_FLAGS='--only leader-sigkill --timings fast --scale none'
BENCH_FLAGS ?=
bench: deps bins build
	./bin/vipkeeper lab bench --out out/bench $(BENCH_FLAGS)

## generate: deepcopy and the VIPPool CRD from api/ (controller-gen via go run; output committed)
generate:
	bash hack/gen.sh

clean:
	rm -rf bin/ out/
