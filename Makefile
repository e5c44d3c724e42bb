# vsphere-audit-exporter — `make test` runs everything CI runs; it installs
# what it needs (Debian packages) when missing and run as root.
GO        ?= go
FUZZTIME  ?= 20s
BENCHLINES ?= 1000000
APT_PKGS  :=

export CGO_ENABLED ?= 0

# Version stamping (prometheus/common/version), as promu does.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BINARY   ?= vsphere_audit_exporter
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS  := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) -X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) -X $(VERSION_PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The core packages, also run under the race detector.
RACE_PKGS := ./internal/pipeline ./internal/reassembly ./internal/dedup ./internal/detect ./internal/metrics ./internal/labels ./collector/syslog ./internal/journal

.PHONY: all build test deps vet lint cross race fmt-check unit fuzz promtool-check bench bench-profile clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BINARY) ./cmd/vsphere_audit_exporter

## deps: install the tools the tests run (promtool, logger) when missing.
deps:
	@./scripts/ensure-deps.sh test

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## cross: the release targets of .goreleaser.yaml build (linux arm64, windows
## amd64): a Linux-only symbol outside a _linux.go file breaks the release.
.PHONY: cross
cross:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/vsphere_audit_exporter
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/vsphere_audit_exporter

## lint: staticcheck (fetched through the module proxy and cached).
lint:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -count=1 ./...

## race: the core packages under the race detector (needs cgo and gcc).
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)

## fuzz: every fuzz target, for a bounded time (FUZZTIME each): parse-and-classify, the RFC 3164 fast path against
## go-syslog, quick filter, live skip, the journal's
## block encoding (round trip, arbitrary bytes) and format-1 JSON decoder (against encoding/json), the TCP frame reader (both framings, random chunks), reassembly of
## interleaved hosts, dedup, the vCenter event mapping and checkpoint loading. scripts/fuzz.sh retries once a run
## that stopped only on Go 1.26's fuzz deadline race (golang/go#75804).
fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/pipeline FuzzParseClassify
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/logline FuzzParse3164Fast
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/detect FuzzQuickFilter
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/pipeline FuzzSkip
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/journal FuzzBlock
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/journal FuzzDecodeEvent
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./collector/syslog FuzzFrameReader
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/reassembly FuzzReassembly
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/dedup FuzzAllow
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./collector/vcenter FuzzToAudit
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./collector/vcenter FuzzLoadCheckpoint
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) ./internal/audit FuzzCleanUser

## fuzz-long: every fuzz target for 10 minutes each (FUZZLONG=1h for longer).
.PHONY: fuzz-long
fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(or $(FUZZLONG),10m)

test: deps rules fmt-check vet lint cross unit race fuzz package package-test

## bench: throughput benchmarks (not part of test); needs mtail and rsyslog, installed when missing.
bench:
	@./scripts/ensure-deps.sh bench
	BENCH_LINES=$(BENCHLINES) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

## bench-profile: CPU and heap profiles of replay and of live TCP ingest, and CPU profiles of the exporter process taking UDP at 200k msg/s, in
## dist/profile/ (read them with go tool pprof -top or -http).
PROFILE_DIR ?= dist/profile
.PHONY: bench-profile
bench-profile:
	@mkdir -p $(PROFILE_DIR)
	BENCH_LINES=$(BENCHLINES) $(GO) test -run '^$$' -bench '^BenchmarkProfileReplay$$' -benchtime 3x -timeout 30m \
	  -cpuprofile $(PROFILE_DIR)/replay.cpu.pprof -memprofile $(PROFILE_DIR)/replay.heap.pprof -o $(PROFILE_DIR)/bench.test ./bench/
	BENCH_LINES=$(BENCHLINES) $(GO) test -run '^$$' -bench '^BenchmarkTCPIngest$$' -benchtime 1x -timeout 30m \
	  -cpuprofile $(PROFILE_DIR)/ingest.cpu.pprof -memprofile $(PROFILE_DIR)/ingest.heap.pprof -o $(PROFILE_DIR)/bench.test ./bench/
	BENCH_LINES=$(BENCHLINES) BENCH_PROFILE_DIR=$(abspath $(PROFILE_DIR)) $(GO) test -run '^$$' -bench '^BenchmarkUDPLoss$$' -benchtime 1x -timeout 30m ./bench/
	@echo "profiles in $(PROFILE_DIR): go tool pprof -top $(PROFILE_DIR)/bench.test $(PROFILE_DIR)/replay.cpu.pprof;" \
	  "the exporter process at 200k msg/s UDP: go tool pprof -top $(PROFILE_DIR)/udp-exporter-0.cpu.pprof"

## package: the .deb and .rpm (nfpm, packaging/nfpm.yaml) in dist/package/:
## the static binary stamped with LDFLAGS, the hardened systemd unit, the
## /etc/default file, the alert rules, Alertmanager example and dashboards.
NFPM      ?= github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
PKG_DIR   ?= dist/package
PKG_ARCH  ?= $(shell $(GO) env GOARCH)
# dpkg and rpm want a version starting with a digit: v1.2.3-4-gabc -> 1.2.3+4+gabc; no tag: 0.0.0+git<sha>.
# Taken once, when LDFLAGS is: other commits may land while make runs.
STAMP_VERSION  := $(VERSION)
STAMP_REVISION := $(REVISION)
PKG_VERSION ?= $(shell echo '$(STAMP_VERSION)' | sed -e '/^v\{0,1\}[0-9][0-9]*\./!s/^/0.0.0+git/' -e 's/^v//' -e 'y/-/+/')
.PHONY: package package-test
package:
	rm -rf $(PKG_DIR) && mkdir -p $(PKG_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(PKG_DIR)/$(BINARY) ./cmd/vsphere_audit_exporter
	for p in deb rpm; do \
	  GOARCH=$(PKG_ARCH) PKG_VERSION='$(PKG_VERSION)' \
	    $(GO) run $(NFPM) package --config packaging/nfpm.yaml --packager $$p --target $(PKG_DIR)/ || exit 1; \
	done

## package-test: install the .deb (dpkg -i, root), systemd-analyze verify its
## unit, run the packaged binary with the packaged defaults, scrape it, purge.
package-test: package
	./scripts/package-test.sh $(PKG_DIR)/*.deb '$(STAMP_VERSION)' '$(STAMP_REVISION)'

## compat: the alert rules checked and unit-tested with promtool 3.x too
## (Prometheus 3). Not part of test: the first run builds promtool with go
## install into .cache/ (many minutes on 2 cores); later runs reuse it.
PROMTOOL3_VERSION ?= v0.316.0
PROMTOOL3_DIR     := $(CURDIR)/.cache/promtool-$(PROMTOOL3_VERSION)
PROMTOOL3         := $(PROMTOOL3_DIR)/promtool
.PHONY: compat
compat:
	@[ -x $(PROMTOOL3) ] || { echo "building promtool 3 (github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL3_VERSION)) into $(PROMTOOL3_DIR): many minutes"; \
	  GOBIN=$(PROMTOOL3_DIR) CGO_ENABLED=0 $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL3_VERSION); }
	$(PROMTOOL3) check rules alerts/*.rules.yml
	$(PROMTOOL3) test rules alerts/tests/*.yml

## release-snapshot: the release archives of .goreleaser.yaml (linux amd64 and
## arm64 tar.gz, windows amd64 zip, sha256sums.txt) built locally into
## dist/release/, nothing published. Not part of test: the first run builds
## goreleaser with go install into .cache/ (minutes); later runs reuse it.
GORELEASER_VERSION ?= v2.15.1
GORELEASER_DIR     := $(CURDIR)/.cache/goreleaser-$(GORELEASER_VERSION)
GORELEASER         := $(GORELEASER_DIR)/goreleaser
# goreleaser reads the remote's URL (git ls-remote --get-url) and, failing,
# stamps "none" as revision and branch: a clone without a remote gets the
# project's URL for this run only (git's environment config, no file changed).
RELEASE_REPO_URL   ?= https://github.com/vsphere-audit-exporter/vsphere-audit-exporter.git
RELEASE_GIT_ENV     = $(if $(shell git remote 2>/dev/null),,GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=$(RELEASE_REPO_URL))
.PHONY: release-snapshot
release-snapshot:
	@[ -x $(GORELEASER) ] || { echo "building goreleaser (github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)) into $(GORELEASER_DIR): minutes"; \
	  GOBIN=$(GORELEASER_DIR) CGO_ENABLED=0 $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION); }
	$(GORELEASER) check
	$(RELEASE_GIT_ENV) BUILD_USER='$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null)' $(GORELEASER) release --snapshot --clean
	ls -l dist/release/*.tar.gz dist/release/*.zip dist/release/sha256sums.txt

clean:
	rm -f vsphere_audit_exporter
	rm -rf dist

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
