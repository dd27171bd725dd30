# pgparity — build, demo, tests, benchmark.
GO      ?= go
BIN     ?= ./pgparity
SANDBOX ?= .sandbox
ROWS    ?= 100000
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test lint bench clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pgparity

# The main job on a local 3-node sandbox: start nodes, load identical data, inject differences,
# check the cluster, diff a table (JSON + HTML report).
demo: build
	$(BIN) sandbox up --dir $(SANDBOX) --nodes 3 --rows $(ROWS) --diverge
	PGPARITY_SERVICEFILE=$(SANDBOX)/pg_service.conf $(BIN) cluster check sandbox
	mkdir -p out
	PGPARITY_SERVICEFILE=$(SANDBOX)/pg_service.conf $(BIN) table-diff sandbox public.wide --output html --out out/wide_diff.json; \
	  code=$$?; [ $$code -le 1 ] || exit $$code
	@echo "demo done: open out/wide_diff.html; stop the nodes with: $(BIN) sandbox destroy --dir $(SANDBOX)"

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...

# Everything CI runs: formatting, vet, staticcheck, and all tests (integration tests start real
# PostgreSQL nodes through internal/sandbox) with the race detector.
test: lint
	$(GO) test -race -count=1 -timeout 30m ./...

# Performance figures: 3-node sandbox, 1,000,000-row wide table, ratios to the hashing floor.
bench: build
	$(GO) run ./cmd/pgparity-bench -bin $(BIN) -rows 1000000

clean:
	rm -f $(BIN)
	rm -rf out
