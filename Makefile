# Cairn's commands. `make run` starts a single member; `make test` runs every
# check and test, as CI does.

GO        ?= go
TOOLS     := tools/bin
DATA_DIR  ?= default.cairn
GOTESTFLAGS ?=

.PHONY: run cluster build test check lint proto proto-check tools unit bench clean jaeger bench-overload fuzz

## run: start a single member serving etcd's API on 127.0.0.1:2379, data in $(DATA_DIR), and its
## metrics and status page on 127.0.0.1:2381 (http://127.0.0.1:2381/status)
run:
	$(GO) run ./cmd/node --name default --data-dir $(DATA_DIR) \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-metrics-urls http://127.0.0.1:2381

## cluster: three members on 127.0.0.1 (clients on 2379, 22379, 32379; metrics on 2381, 22381, 32381) in the
## foreground; Ctrl-C stops them. CLUSTER_FLAGS go to every member, e.g. tracing to a local Jaeger:
## make cluster CLUSTER_FLAGS="--otlp-endpoint 127.0.0.1:4317 --otlp-insecure"
CLUSTER_FLAGS ?=
cluster:
	./scripts/cluster.sh $(CLUSTER_FLAGS)

## jaeger: build Jaeger v2 from the Go module proxy into tools/bin/jaeger (about 5 minutes on 2 cores);
## run it with: tools/bin/jaeger --config file:scripts/jaeger-local.yaml
jaeger: $(TOOLS)/jaeger

$(TOOLS)/jaeger: scripts/build-jaeger.sh
	./scripts/build-jaeger.sh

## build: build the member binary into bin/
build:
	$(GO) build -o bin/cairn-node ./cmd/node

## test: formatting, vet, staticcheck, generated code, then every test with -race
test: check tools unit

# CAIRN_REQUIRE_TOOLS turns a test's skip for a missing tools/bin binary into
# a failure: under `make test` the tools are always built.
unit:
	CAIRN_REQUIRE_TOOLS=1 $(GO) test -race -count=1 $(GOTESTFLAGS) ./...

check: lint proto-check

lint: $(TOOLS)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

## proto: regenerate the Go code of proto/cairnpb/*.proto
proto:
	./proto/gen.sh

## proto-check: fail if the committed generated code is stale
proto-check:
	@tmp=$$(mktemp -d) && cp proto/cairnpb/*.pb.go $$tmp/ && ./proto/gen.sh && \
		for f in proto/cairnpb/*.pb.go; do cmp -s $$f $$tmp/$$(basename $$f) || { echo "stale generated code: $$f (run make proto)"; cp $$tmp/*.pb.go proto/cairnpb/; rm -rf $$tmp; exit 1; }; done; \
		rm -rf $$tmp

## tools: build the real etcd, etcdctl and the code tools from tools/go.mod
tools: $(TOOLS)/etcd $(TOOLS)/etcdctl $(TOOLS)/staticcheck

$(TOOLS)/etcd: tools/go.mod
	cd tools && $(GO) build -o bin/etcd go.etcd.io/etcd/server/v3

$(TOOLS)/etcdctl: tools/go.mod
	cd tools && $(GO) build -o bin/etcdctl go.etcd.io/etcd/etcdctl/v3

$(TOOLS)/staticcheck: tools/go.mod
	cd tools && $(GO) build -o bin/staticcheck honnef.co/go/tools/cmd/staticcheck

## bench-restart: load 1,000,000 keys into Cairn and etcd, restart each, print throughput, latency,
## RSS and start-up time (about a minute on 2 cores); e.g. BENCHFLAGS="-keys 20000 -csv rss.csv"
.PHONY: bench-restart
bench-restart: $(TOOLS)/etcd
	$(GO) run ./cmd/bench -workloads restart-1m $(BENCHFLAGS)

## bench-speed: 1 MB puts (300, 4 in flight), 256 B puts and linearizable gets (100 in flight, 20 s each) on
## 3 members of Cairn and of etcd, in 5 rounds that alternate which system runs first (a round takes about
## 2 minutes on 2 cores): medians of req/s, latency, CPU, Go allocation and disk bytes per request, the
## leader's peak RSS, and the disk's synced-write rates; the table on stdout and in $(BENCH_OUT)/speed.txt; shorter:
## BENCHFLAGS="-rounds 1 -speed-put-1mb-count 50 -speed-small-puts-duration 5s -speed-lin-reads-duration 5s"
.PHONY: bench-speed
bench-speed: $(TOOLS)/etcd
	mkdir -p $(BENCH_OUT)
	$(GO) run ./cmd/bench -workloads speed -rounds 5 $(BENCHFLAGS) > $(BENCH_OUT)/speed.txt; \
		status=$$?; cat $(BENCH_OUT)/speed.txt; exit $$status

## bench-overload: the flood of the overload benchmark (cmd/bench overload.go): 2,000 clients putting 64 KiB
## values over 200 connections to 3 members of Cairn and of etcd for 60 s, after a peak measured with 16
## clients; goodput as a fraction of that peak, p99 of completed and of refused puts, errors by kind, peak
## RSS of the largest member, exits and actor restarts (about 3 minutes per round); the table on stdout
## and in $(BENCH_OUT)/overload.txt; shorter: BENCHFLAGS="-rounds 1 -flood-duration 20s"
.PHONY: bench-overload
bench-overload: $(TOOLS)/etcd
	mkdir -p $(BENCH_OUT)
	$(GO) run ./cmd/bench -workloads overload-flood -flood-duration 60s -rounds 3 $(BENCHFLAGS) > $(BENCH_OUT)/overload.txt; \
		status=$$?; cat $(BENCH_OUT)/overload.txt; exit $$status

## bench-memory: issue 5's five workloads against Cairn and etcd (about 45 minutes on 2 cores): the table
## on stdout and in $(BENCH_OUT)/table.txt, every RSS and heap sample in $(BENCH_OUT)/rss.csv, a PNG of RSS
## over time per workload in $(BENCH_OUT)/; shorter: BENCHFLAGS="-rewrite-duration 1m -idle-duration 2m"
BENCH_OUT ?= bench-out
.PHONY: bench-memory
bench-memory: $(TOOLS)/etcd
	mkdir -p $(BENCH_OUT)
	$(GO) run ./cmd/bench -csv $(BENCH_OUT)/rss.csv -plot-dir $(BENCH_OUT) $(BENCHFLAGS) > $(BENCH_OUT)/table.txt; \
		status=$$?; cat $(BENCH_OUT)/table.txt; exit $$status

## fuzz: every fuzz target for FUZZTIME each (make test runs their seeds only); a finding is written
## under the package's testdata/fuzz, where it stays as a regression case
FUZZTIME ?= 1m
FUZZ_TARGETS = ./actors/transport:FuzzPeerCodecUnmarshal ./proto/alias:FuzzUnmarshal ./proto/alias:FuzzMarshalParts \
	./storage/mvcc:FuzzVersionKeyOrder ./storage/mvcc:FuzzRequests ./storage:FuzzRestoreBackup
.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## robustness: the robustness suite (robustness/): clients against 3 members under each fault alone for
## ROBUSTNESS_DURATION, then all mixed (in runs of at most a minute); with the default about 9 x 75 s. A failure names the
## directory with porcupine's visualisation and the seed; repeat with ROBUSTNESS_FLAGS="-robustness.seed=N
## -robustness.faults=kill,pause". make test runs a short mixed run.
ROBUSTNESS_DURATION ?= 1m
ROBUSTNESS_FLAGS ?=
.PHONY: robustness
robustness:
	$(GO) test -race -count=1 -timeout 0 -run TestRobustness -v ./robustness/ \
		-args -robustness.duration=$(ROBUSTNESS_DURATION) $(ROBUSTNESS_FLAGS)

clean:
	rm -rf bin $(TOOLS) $(DATA_DIR)
