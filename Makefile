# pgparity — build, demo, tests, benchmark.
GO      ?= go
BIN     ?= ./pgparity
SANDBOX ?= .sandbox
ROWS    ?= 100000
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo "$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2")

.PHONY: build demo test lint bench clean deps package

# PostgreSQL server binaries: installed with apt when missing and we are root (as on a fresh
# Debian machine); otherwise the sandbox says how to install them.
deps:
	@if [ -z "$$PG_BINDIR" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing PostgreSQL server binaries (apt-get install -y postgresql)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pgparity

# Packages an operator installs: dist/pgparity_<version>-1_<arch>.deb and
# dist/pgparity-<version>-1.<arch>.rpm, holding the binary, a man page per command, bash, zsh and
# fish completions, the license and the docs (packaging/nfpm.yaml, built by the Go command in
# packaging/ with nfpm as a library; a module of its own, see packaging/main.go). The binary
# reports $(VERSION) as make build's does; the package version is $(VERSION) mapped to what dpkg
# and rpm accept (they need a leading digit: 43bfb1e becomes 0.0.0~git43bfb1e, v1.2.3-4-gabc1234
# becomes 1.2.3+git4.abc1234; see packaging/version.go). The binary is static (CGO_ENABLED=0), so
# one package fits every distribution, and stripped of its symbol table and DWARF as
# distributions strip theirs (panics still print file:line stacks). File times and man page
# dates are the commit's, so that building a commit again gives the same packages. -mod=mod:
# packaging/go.mod follows the root module through a replace, so a new root dependency must not
# break the build before packaging/go.mod is tidied.
PKG_ARCH          ?= $(shell $(GO) env GOARCH)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
package:
	rm -rf dist
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -ldflags "-s -w -X main.version=$(VERSION)" -o dist/pgparity ./cmd/pgparity
	cd packaging && SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run -mod=mod . -bin ../dist/pgparity -version "$(VERSION)" -arch $(PKG_ARCH) -out ../dist

# The main job on a local 3-node sandbox: start nodes, load identical data, inject differences,
# check the cluster, diff a table (JSON + HTML report; exit 1 = differences, expected here),
# repair it from n1, and diff again (must match: exit 0).
SVC = PGPARITY_SERVICEFILE=$(SANDBOX)/pg_service.conf
demo: deps build
	$(BIN) sandbox up --dir $(SANDBOX) --nodes 3 --rows $(ROWS) --diverge
	$(SVC) $(BIN) cluster check sandbox
	mkdir -p out
	$(SVC) $(BIN) table-diff sandbox public.wide --output html --out out/wide_diff.json; \
	  code=$$?; [ $$code -eq 1 ] || { echo "expected differences (exit 1), got exit $$code"; exit 1; }
	$(SVC) $(BIN) table-repair --diff-file out/wide_diff.json --source-of-truth n1 \
	  --report out/wide_repair.json --undo-file out/wide_undo.jsonl
	$(SVC) $(BIN) table-diff sandbox public.wide --out out/wide_after.json
	@echo "demo done: the second diff matches. Report: out/wide_diff.html, repair: out/wide_repair.json,"
	@echo "undo: out/wide_undo.jsonl. Stop the nodes with: $(BIN) sandbox destroy --dir $(SANDBOX)"

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Everything CI runs: formatting, vet, staticcheck, and all tests (integration tests start real
# PostgreSQL nodes through internal/sandbox) with the race detector.
test: deps lint
	$(GO) test -race -count=1 -timeout 30m ./...

# Performance figures: 3-node sandbox, 1,000,000-row wide table, floors, cases and ratios from one
# run (see cmd/pgparity-bench); e.g. BENCH_ARGS="-only truncate,rss -dir /tmp/bench" reruns cases.
bench: deps build
	$(GO) run ./cmd/pgparity-bench -bin $(BIN) -rows 1000000 $(BENCH_ARGS)

clean:
	rm -f $(BIN)
	rm -rf out
