# crm-bridge. `make dev` runs the bridge on its embedded defaults; `make
# test` runs every check CI runs. Nothing beyond Go and make is needed:
# staticcheck is a Go tool of this module (go.mod), fetched by the go command.
# Only compose-check wants docker-compose, deploy-check helm and promtool
# (`make tools`), and examples node and npm: each skips without them,
# except in CI.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGS    := ./...

.PHONY: all build dev test check fmt-check vet lint compose-check tools deploy-check examples-deps examples unit e2e bench bench-inprocess bench-blackbox fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/bridge ./cmd/bridge

dev:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/bridge dev

test: check examples unit e2e

check: fmt-check vet lint compose-check deploy-check

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

lint:
	$(GO) tool staticcheck $(PKGS)

# compose.yaml must be a valid Compose file: `docker-compose config` checks
# it against the Compose Specification with no Docker engine. It must also
# reject a broken file, or it checks nothing. Debian's docker-compose
# (1.29) is what CI has (.ci/run installs it); without it the check is
# skipped, unless CI is set. The Dockerfile, and the settings, flags and
# ports in compose.yaml, are checked by cmd/bridge/dockerfile_test.go (unit).
DOCKER_COMPOSE ?= docker-compose
compose-check:
	@if ! command -v $(firstword $(DOCKER_COMPOSE)) >/dev/null 2>&1; then \
	  case "$$CI" in \
	    ""|false|0) echo "compose-check: SKIPPED: no $(DOCKER_COMPOSE) (apt-get install docker-compose, or DOCKER_COMPOSE='docker compose')"; exit 0;; \
	    *) echo "compose-check: no $(DOCKER_COMPOSE), and CI is set ($$CI): .ci/run installs it" >&2; exit 1;; \
	  esac; \
	fi; \
	if printf 'services:\n  x:\n    image: x\n    no_such_option: 1\n' | $(DOCKER_COMPOSE) -f - config -q 2>/dev/null; then \
	  echo "compose-check: $(DOCKER_COMPOSE) config accepts a broken file: it validates nothing" >&2; exit 1; \
	fi; \
	$(DOCKER_COMPOSE) -f compose.yaml config -q && echo "compose-check: compose.yaml is valid"

# The deployment's tools, built from the Go module proxy (nothing else is
# needed): helm, and Prometheus's promtool (the prometheus module's versions
# are v0.x: v0.316.0 is Prometheus 3.16). `make tools` installs them into
# TOOLS_BIN, once: again only when the version built there differs. Every
# recipe finds them there (PATH), cmd/bridge/helm_test.go too.
HELM_VERSION     ?= v3.22.0
PROMTOOL_VERSION ?= v0.316.0
TOOLS_BIN        ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(TOOLS_BIN):$(PATH)

tools:
	@set -e; \
	for t in helm:helm.sh/helm/v3:helm.sh/helm/v3/cmd/helm@$(HELM_VERSION) \
	         promtool:github.com/prometheus/prometheus:github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION); do \
	  name=$${t%%:*}; rest=$${t#*:}; mod=$${rest%%:*}; pkg=$${rest#*:}; \
	  if $(GO) version -m $(TOOLS_BIN)/$$name 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$$mod[[:space:]]+$${pkg#*@}[[:space:]]"; then \
	    echo "tools: $$name $${pkg#*@} is in $(TOOLS_BIN)"; \
	  else \
	    echo "tools: go install $$pkg (into $(TOOLS_BIN); a few minutes)"; \
	    GOBIN=$(TOOLS_BIN) $(GO) install $$pkg; \
	  fi; \
	done

# The Helm chart and the Prometheus rules (docs/deploy.md): helm lint, and
# helm template with the least values it needs (the defaults) and with
# ci/full-values.yaml; promtool check rules and its unit tests. What the
# chart renders is checked by cmd/bridge/helm_test.go, and the metrics the
# rules and the dashboard name by internal/bridge/deploy_test.go (unit).
CHART         := deploy/helm/crm-bridge
CHART_MINIMAL := --set config.crmUrl=https://crm.example.com --set config.crmOrgId=example --set config.crmApiKey.value=example-key
deploy-check:
	@missing=; for t in helm promtool; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  case "$$CI" in \
	    ""|false|0) echo "deploy-check: SKIPPED: no$$missing in PATH or $(TOOLS_BIN) (make tools)"; exit 0;; \
	    *) echo "deploy-check: no$$missing, and CI is set ($$CI): .ci/run installs them (make tools)" >&2; exit 1;; \
	  esac; \
	fi; \
	set -e; \
	helm lint --strict $(CHART) $(CHART_MINIMAL); \
	helm lint --strict $(CHART) -f $(CHART)/ci/full-values.yaml; \
	helm template crm-bridge $(CHART) $(CHART_MINIMAL) >/dev/null; \
	helm template crm-bridge $(CHART) -f $(CHART)/ci/full-values.yaml >/dev/null; \
	echo "deploy-check: the chart lints and renders (default and full values)"; \
	promtool check rules deploy/prometheus/alerts.yaml; \
	promtool test rules deploy/prometheus/alerts_test.yaml


# The Node.js examples (examples/node/README.md): their packages, pinned by
# package-lock.json, installed with npm ci; their own tests (node --test);
# then TestNodeExamples runs each against `bridge dev` and checks what it
# prints. Without node or npm: skipped, unless CI is set (.ci/run installs
# them).
examples-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  case "$$CI" in \
	    ""|false|0) echo "examples: SKIPPED: no node or npm (apt-get install nodejs npm)"; exit 0;; \
	    *) echo "examples: no node or npm, and CI is set ($$CI): .ci/run installs them" >&2; exit 1;; \
	  esac; \
	fi; \
	node --version; npm ci --prefix examples/node --no-audit --no-fund

examples: examples-deps
	@if command -v node >/dev/null 2>&1; then cd examples/node && node --test; fi
	$(GO) test -count=1 -timeout 5m -run '^TestNodeExamples$$' ./cmd/bridge

# Every package but the end-to-end suite, with the race detector
# (TestNodeExamples runs in examples).
unit:
	$(GO) test -race -timeout 9m -skip '^TestNodeExamples$$' $$($(GO) list $(PKGS) | grep -v /internal/e2e$$)

# The end-to-end fault suite (docs/reliability.md): the built bridge binary
# as child processes, against NATS (one server, or a three-node cluster,
# each node a child process too) and the CRM simulator, each scenario
# breaking one of them. Not under the race detector: what it checks is the
# binary users run, and the packages' own tests run with it. About 3
# minutes on 2 cores.
e2e:
	$(GO) test -count=1 -timeout 20m ./internal/e2e

# Benchmarks. See docs/performance.md. First the in-process ones, each of
# one function (decoding, digests, the indexes, the simulator's pages),
# one package at a time (-p 1: benchmarks of two packages at once would
# measure each other), BENCH_COUNT runs each. Then the black-box ones
# (internal/blackbox), which measure the whole system the way users run
# it, each against a floor measured in the same run: nats-server, the
# simulator, the bridge binary and a floor, each its own process, medians
# of BENCH_ROUNDS (3) rounds; BENCH_CUSTOMERS (300000; 1000000 for issue
# 13's figure) and the other BENCH_ sizes of internal/blackbox/bench_test.go
# choose the sizes.
BENCH_COUNT ?= 5
bench: bench-inprocess bench-blackbox

bench-inprocess:
	$(GO) test -p 1 -timeout 60m -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) $$($(GO) list $(PKGS) | grep -v /internal/blackbox$$)

bench-blackbox:
	$(GO) test -count 1 -timeout 60m -run '^$$' -bench BlackBox -benchtime 1x ./internal/blackbox

# Each fuzz target for FUZZ_TIME; their seed corpora run in every `make test`.
# A finding is written under the package's testdata/fuzz and fails the run.
# Go 1.26's fuzzing coordinator may fail a target with a bare "context
# deadline exceeded" as FUZZ_TIME ends, with no input written
# (go.dev/issue/75804, fixed in Go 1.27): that is said, and not counted.
FUZZ_TIME ?= 5m
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    if $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZ_TIME) $$pkg >$$out 2>&1; then tail -n 3 $$out; \
	    elif grep -q '^    context deadline exceeded$$' $$out && ! grep -q 'Failing input written' $$out; then \
	      tail -n 6 $$out; echo "fuzz: $$f: the coordinator's end-of-fuzztime race (go.dev/issue/75804), not a finding"; \
	    else cat $$out; exit 1; fi; \
	  done; \
	done

clean:
	rm -rf bin
