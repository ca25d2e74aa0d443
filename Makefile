# Tickertape's two commands:
#   make run    set up what is missing, build the release site, serve it on http://127.0.0.1:3000
#   make test   set up what is missing (Chromium too), run cargo test, build, run the browser suite
# Every set-up step checks before it installs, so a second run goes straight to the work.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

CARGO_LEPTOS_VERSION := 0.3.10
# The wasm-bindgen CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' Cargo.lock)
# wasm-opt comes from npm's binaryen (Debian's is too old: the page would not hydrate).
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test setup browser redis postgres build rust-tests dev-check e2e screenshots bench bench-tabs bench-page scenario wasm-target cargo-leptos wasm-bindgen npm-deps

run: setup build
	@echo "==> serving Tickertape at http://$${LEPTOS_SITE_ADDR:-127.0.0.1:3000} (Ctrl-C stops it)"
	./target/release/tickertape

test: setup browser redis postgres rust-tests dev-check build e2e
	@echo "==> all tests passed"

# The multi-node tests (server/tests/bus.rs) start their own redis-server on free loopback
# ports, restart it mid-stream, and stop it when they end; the account tests
# (server/tests/accounts.rs) start a private PostgreSQL the same way, never a system one.
rust-tests:
	@echo "==> cargo test (workspace; the bus and account tests run their own redis-server and PostgreSQL)"
	cargo test --workspace

# `cargo leptos watch` builds debug halves with `--cfg erase_components` (every component then
# returns AnyView), which the release build does not: a component that compiles only one way
# breaks the development loop unseen. Checked here both ways it is built (the page's WASM, and the
# app as the server renders it), in a target directory of their own so that the flag never
# invalidates the release build's cache.
dev-check:
	@echo "==> checking the app as cargo leptos watch builds it (--cfg erase_components)"
	CARGO_TARGET_DIR=target/erased RUSTFLAGS="--cfg erase_components" \
	  cargo check -q -p tickertape-app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate
	CARGO_TARGET_DIR=target/erased RUSTFLAGS="--cfg erase_components" \
	  cargo check -q -p tickertape-app --lib --features ssr

# --precompress writes a brotli (quality 11) and a gzip copy beside every file of the site, which
# the server sends as they are; the gzip copies are then redone at gzip's best level, which
# cargo-leptos's encoder does not reach (the WASM: 195 KB against 166 KB).
build:
	@echo "==> building the release site (server binary, WASM, CSS), precompressed"
	cargo leptos build --release --precompress
	@for f in target/site/pkg/*; do case "$$f" in *.br|*.gz) ;; *) gzip -9 -n -c "$$f" > "$$f.gz" ;; esac; done

e2e:
	@echo "==> Playwright suite in headless Chromium"
	cd end2end && npx playwright test

screenshots: setup browser build
	@echo "==> rendering the README screenshots into end2end/screenshots/"
	cd end2end && npx playwright test -c screenshots.config.ts

bench:
	@echo "==> criterion micro-benchmarks (results in target/criterion)"
	cargo bench -p tickertape-server --bench hub

# Twelve tabs of one browser against a server of its own: sharing one stream, and each with its
# own connection (BENCHMARKS.md, "Tabs").
bench-tabs: setup browser build
	@echo "==> twelve tabs in one headless Chromium, shared stream against a connection each"
	@db=$$(mktemp -d); LEPTOS_SITE_ADDR=127.0.0.1:3400 LEPTOS_SITE_ROOT=target/site RUST_LOG=warn TICK_RATE_HZ=50 \
	  DATABASE_URL=sqlite://$$db/bench.db ./target/release/tickertape & pid=$$!; \
	  trap "kill $$pid" EXIT; \
	  for i in $$(seq 100); do curl -sf http://127.0.0.1:3400/healthz >/dev/null && break; sleep 0.1; done; \
	  cd end2end && node bench/tabs.mjs http://127.0.0.1:3400 $$pid 12 30

# The dashboard's main-thread cost per frame beside the same screen on lightweight-charts, at 200
# and at 10 frames/s (BENCHMARKS.md, "Page cost against lightweight-charts").
bench-page: setup browser build
	@echo "==> page cost: Tickertape against lightweight-charts, headless Chromium at 1440x900"
	@db=$$(mktemp -d); \
	  LEPTOS_SITE_ADDR=127.0.0.1:3401 LEPTOS_SITE_ROOT=target/site RUST_LOG=warn TICK_RATE_HZ=200 \
	    DATABASE_URL=sqlite://$$db/fast.db ./target/release/tickertape & fast=$$!; \
	  LEPTOS_SITE_ADDR=127.0.0.1:3402 LEPTOS_SITE_ROOT=target/site RUST_LOG=warn TICK_RATE_HZ=10 \
	    DATABASE_URL=sqlite://$$db/slow.db ./target/release/tickertape & slow=$$!; \
	  trap "kill $$fast $$slow" EXIT; \
	  for i in $$(seq 100); do curl -sf http://127.0.0.1:3401/healthz >/dev/null && curl -sf http://127.0.0.1:3402/healthz >/dev/null && break; sleep 0.1; done; \
	  cd end2end && node bench/page-cost.mjs http://127.0.0.1:3401 http://127.0.0.1:3402 $${SECONDS_PER_RUN:-10} $${RUNS:-2}

scenario:
	@echo "==> load scenario $(N) (see BENCHMARKS.md)"
	server/benches/scenarios.sh $(N)

setup: wasm-target cargo-leptos wasm-bindgen npm-deps

wasm-target:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || { \
	  echo "==> adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }

cargo-leptos:
	@[ "$$(cargo leptos --version 2>/dev/null)" = "cargo-leptos $(CARGO_LEPTOS_VERSION)" ] || { \
	  echo "==> installing cargo-leptos $(CARGO_LEPTOS_VERSION) (once; about 15 minutes on 2 cores)"; \
	  cargo install cargo-leptos@$(CARGO_LEPTOS_VERSION) --locked; }

wasm-bindgen:
	@[ -n "$(WASM_BINDGEN_VERSION)" ] || { echo "error: no wasm-bindgen version in Cargo.lock" >&2; exit 1; }
	@[ "$$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] || { \
	  echo "==> installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (once; about 3 minutes)"; \
	  cargo install wasm-bindgen-cli@$(WASM_BINDGEN_VERSION); }

npm-deps:
	@command -v npm >/dev/null || { echo "error: Node.js and npm are required (apt-get install nodejs npm)" >&2; exit 1; }
	@[ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ] || { \
	  echo "==> installing end2end npm packages (Playwright, binaryen's wasm-opt; no browser download)"; \
	  cd end2end && npm ci --no-audit --no-fund; }

browser:
	@[ -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" ] || { \
	  echo "==> installing Chromium from Debian's packages"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

redis:
	@command -v redis-server >/dev/null || { \
	  echo "==> installing redis-server from Debian's packages (for the multi-node tests)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# Only the binaries: the tests run private clusters of their own (initdb in a temporary directory).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "==> installing PostgreSQL from Debian's packages (for the account tests)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }
