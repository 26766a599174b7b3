# churnops — the single entry point. `make demo` runs the full local loop,
# `make test` runs every test (unit, then the emulator integration suite).
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
BIN := bin

.PHONY: demo test unit lint build bench
demo: ## the whole loop on generated data, on the embedded default (no cloud, no Docker)
	$(GO) run ./cmd/churnops demo

test: unit ## every test

unit:
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

build:
	$(GO) build -o $(BIN)/churnops ./cmd/churnops

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
