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

unit:
	$(GO) test -race -timeout 45m ./...

build:
	$(GO) build ./...

demo:
	$(GO) run ./cmd/slod --demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
