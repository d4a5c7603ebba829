# crm-bridge. `make dev` runs the bridge on its embedded defaults; `make
# test` runs every check CI runs. Nothing beyond Go and make is needed:
# staticcheck is a Go tool of this module (go.mod), fetched by the go command.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGS    := ./...

.PHONY: all build dev test check fmt-check vet lint unit bench fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/bridge ./cmd/bridge

dev:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/bridge dev

test: check unit

check: fmt-check vet lint

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

lint:
	$(GO) tool staticcheck $(PKGS)

unit:
	$(GO) test -race -timeout 9m $(PKGS)

# Benchmarks, each against a floor measured in the same run: medians of
# BENCH_COUNT runs. See docs/performance.md.
BENCH_COUNT ?= 5
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) $(PKGS)

# Each fuzz target for FUZZ_TIME; their seed corpora run in every `make test`.
FUZZ_TIME ?= 1m
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZ_TIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
