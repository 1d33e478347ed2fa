# `make test` is the project's test command (README, .ci/run).
GO ?= go

.PHONY: test test-deps fmt-check vet unit bench fuzz build demo

test: test-deps fmt-check vet unit

test-deps:
	./scripts/install-test-deps.sh

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# -p 4: four test binaries at once on two cores. Several packages spend
# most of their time waiting (the e2e tests on real processes and clocks,
# promtool runs), so two at a time left a core idle for half the run.
unit:
	$(GO) test -race -p 4 -timeout 45m ./...

build:
	$(GO) build ./...

demo:
	$(GO) run ./cmd/slod --demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# End-to-end scale test, not part of `make test`: a real Prometheus with
# SCALE_ROUTES routes of synthetic history and a real slod with one
# group_by: [route] SLO over them (docs/performance.md, "End to end at
# scale"). Fixtures are cached under $SCALE_DIR (default /tmp/slod-scale).
SCALE_ROUTES ?= 100000
SCALE_FLAGS ?=

.PHONY: scale scale-quick

scale:
	cd scale && $(GO) run ./run --routes $(SCALE_ROUTES) $(SCALE_FLAGS)

scale-quick:
	cd scale && $(GO) run ./run --routes 2000 $(SCALE_FLAGS)
