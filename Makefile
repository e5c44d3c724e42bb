# vsphere-audit-exporter — `make test` runs everything CI runs; it installs
# what it needs (Debian packages) when missing and run as root.
GO        ?= go
FUZZTIME  ?= 20s
BENCHLINES ?= 1000000
APT_PKGS  :=

export CGO_ENABLED ?= 0

.PHONY: all build test deps vet fmt-check unit fuzz promtool-check bench clean

all: build

build:
	$(GO) build -o vsphere_audit_exporter ./cmd/vsphere_audit_exporter

## deps: install the tools the tests run (promtool, logger) when missing.
deps:
	@./scripts/ensure-deps.sh test

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

## fuzz: the parse-and-classify fuzz target, seeded from testdata/, for a bounded time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseClassify$$' -fuzztime $(FUZZTIME) ./internal/pipeline

test: deps rules fmt-check vet unit fuzz

## bench: throughput benchmarks (not part of test); needs mtail, installed when missing.
bench:
	@./scripts/ensure-deps.sh bench
	BENCH_LINES=$(BENCHLINES) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

clean:
	rm -f vsphere_audit_exporter

## rules: check and unit-test the shipped alert rules and Alertmanager routing
## (alerts/); the Go tests in e2e/ check routing, conventions and run the
## rules end to end in a real Prometheus and Alertmanager.
.PHONY: rules
rules: deps
	promtool check rules alerts/*.rules.yml
	promtool test rules alerts/tests/*.yml
	amtool check-config alerts/alertmanager.yml

## dashboards: only the dashboard tests (dashboards/): conventions, every
## panel query through promtool, and every panel query against a real
## Prometheus scraping the exporter in demo mode (also run by `unit`).
.PHONY: dashboards
dashboards: deps
	$(GO) test -count=1 -run 'Dashboard' -v ./e2e
