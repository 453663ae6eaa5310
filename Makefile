# jobtrace — build, run and test the collector distribution.
#   make run    build if needed, then run the collector with collector.yaml
#   make test   lint, unit, integration and end-to-end tests (needs redis-server on PATH)

SHELL := /bin/bash
ROOT := $(abspath .)
GO ?= go
BIN := $(ROOT)/bin
BUILDER := $(BIN)/builder
MDATAGEN := $(BIN)/mdatagen
OTELCOL := otelcol-dev/otelcol-jobtrace
BUILDER_VERSION := v0.159.0
# The proxy serves these modules but not their version lists, which `go install` asks for: use
# the configured proxies without the `direct` fallback, so the lookup fails fast rather than
# trying a direct fetch the network does not allow.
TOOLS_PROXY ?= $(shell $(GO) env GOPROXY | tr ',|' '\n\n' | grep -v -x -e direct -e off | paste -sd, -)
# Serialise distribution builds: tests and people may ask for one at the same time.
LOCK := flock $(ROOT)/.build.lock

GO_SOURCES := $(shell find receiver processor exporter extension internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

.PHONY: all tools build generate run test test-unit test-e2e test-rules bench lint tui demo jaeger victorialogs durable clean

all: build

$(BUILDER):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) GOPROXY=$(TOOLS_PROXY) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(BUILDER_VERSION)

$(MDATAGEN): tools/mdatagen/go.mod
	@mkdir -p $(BIN)
	cd tools/mdatagen && GOPROXY=$(TOOLS_PROXY) $(GO) build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

tools: $(BUILDER) $(MDATAGEN)

# generate: regenerate otelcol-dev/ sources (committed) from builder-config.yaml without compiling.
generate: $(BUILDER)
	$(LOCK) $(BUILDER) --config builder-config.yaml --skip-strict-versioning=false --skip-compilation

$(OTELCOL): $(BUILDER) builder-config.yaml $(GO_SOURCES)
	$(LOCK) $(BUILDER) --config builder-config.yaml --skip-strict-versioning=false
	@touch $(OTELCOL)

build: $(OTELCOL)

run: $(OTELCOL)
	@mkdir -p var/worker-logs
	$(OTELCOL) --config collector.yaml

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^otelcol-dev/')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# test-unit: everything in the root module except the end-to-end suite.
test-unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

# test-e2e: the end-to-end suite against the built distribution.
test-e2e: $(OTELCOL)
	JOBTRACE_BINARY=$(ROOT)/$(OTELCOL) $(GO) test -count=1 -timeout 15m ./test/e2e/...

# test-rules: the Prometheus alert rules, with promtool (Debian's prometheus package).
test-rules:
	promtool check rules deploy/prometheus/jobtrace-rules.yaml
	cd deploy/prometheus/tests && promtool test rules *.yaml

test: tools $(BIN)/jaeger $(BIN)/victoria-logs lint test-rules test-unit test-e2e

# bench: Go benchmarks of every package, then the load harnesses (loopback only, bounded in time;
# they start private redis-servers). Figures go in docs/BENCHMARKS.md.
bench: $(OTELCOL)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s $$($(GO) list ./... | grep -v /test/)
	$(GO) run ./test/load/queuejob -duration 10s -rate 6000
	$(GO) run ./test/load/tailstream
	@[ -x $(BIN)/peer/otelcol-peer ] || (cd test/load/livetail/peer && $(BUILDER) --config builder-config.yaml --skip-strict-versioning=false)
	$(GO) run ./test/load/livetail
	$(GO) run ./test/load/durable -records 200000 -rounds 2

tui:
	$(GO) run ./cmd/jobtail --endpoint $${JOBTAIL_ENDPOINT:-localhost:8088}

# demo: a private redis-server (port 16379), the collector and jobsim; then run `make tui`.
demo: $(OTELCOL)
	./scripts/demo.sh

# jaeger: Jaeger v2 for the trace-backend integration test, built from its own tools module
# because its collector dependencies differ from ours (~3 minutes on 2 cores, once).
jaeger: $(BIN)/jaeger

$(BIN)/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	@mkdir -p $(BIN)
	GOPROXY=$(TOOLS_PROXY) $(GO) build -C tools/jaeger -o $(BIN)/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

# victorialogs: VictoriaLogs, the durable log tier (examples/durable.yaml), from its own tools
# module; CGO_ENABLED=0 gives a static binary (~1 minute on 2 cores, once).
victorialogs: $(BIN)/victoria-logs

$(BIN)/victoria-logs: tools/victorialogs/go.mod tools/victorialogs/go.sum
	@mkdir -p $(BIN)
	CGO_ENABLED=0 GOPROXY=$(TOOLS_PROXY) $(GO) build -C tools/victorialogs -o $(BIN)/victoria-logs github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs

# durable: VictoriaLogs, Jaeger (Badger) and the collector with examples/durable.yaml, data
# under ./var (see scripts/durable.sh for ports and variables).
durable: $(OTELCOL) $(BIN)/victoria-logs $(BIN)/jaeger
	./scripts/durable.sh

clean:
	rm -f $(OTELCOL)
	rm -rf var .tmp
	$(GO) clean -testcache
