#!/bin/bash
# Sequential equivalence of two emitted Verilog files of the same top (a refactoring that must
# not change behaviour, e.g. logic moved into a sub-block), with yosys 0.23:
#
#   scripts/rtl_equiv.sh OLD.v NEW.v TOP            # exit 0: equivalent; 1: not proven
#   STRIP=mport scripts/rtl_equiv.sh OLD.v NEW.v TOP
#
# Both files are emitted by `moca gen` (e.g. before and after the change, small sizes:
# `--dim 2 --sp-rows 8 --acc-rows 4 --mem-rows 16`). The tops are renamed old_TOP / new_TOP, then
# `prep; flatten; memory_map; opt_clean; async2sync; equiv_make; equiv_struct; equiv_simple
# -seq 2; equiv_induct -seq 2; equiv_status -assert`. equiv_make pairs signals by name, so a
# change that moves registers into a sub-block instance INST sets STRIP=INST: the new design's
# flattened wires `INST.x` are renamed `x` where the new top has no `x` of its own. Prints the
# cell count of the old top, the number of $equiv cells and the unproven ones. Work files go to
# $OUT (default a temporary directory, kept for inspection). A tile or SoC takes minutes.
set -eu
old=$1; new=$2; top=$3
d=${OUT:-$(mktemp -d)}
mkdir -p "$d"
sed "s/\b${top}/old_${top}/g" "$old" > "$d/old.v"
sed "s/\b${top}/new_${top}/g" "$new" > "$d/new.v"
prep="prep
flatten
memory_map
opt_clean
async2sync"
renames=""
if [ -n "${STRIP:-}" ]; then
  printf 'read_verilog %s\n%s\ntee -q -o %s select -list w:*\n' "$d/new.v" "$prep" "$d/wires.txt" \
    > "$d/names.ys"
  nice -n 10 yosys -q -s "$d/names.ys" > /dev/null
  sed -i "s|^new_${top}/||" "$d/wires.txt"
  renames=$(awk -v p="$STRIP." 'NR == FNR { have[$0] = 1; next }
    index($0, p) == 1 { n = substr($0, length(p) + 1); if (!(n in have)) print "rename \\" $0 " \\" n }' \
    "$d/wires.txt" "$d/wires.txt")
  renames="cd new_${top}
$renames
cd .."
fi
cat > "$d/eq.ys" <<YS
read_verilog $d/old.v
read_verilog $d/new.v
$prep
$renames
tee -o $d/stat.txt stat old_${top}
equiv_make old_${top} new_${top} eq
hierarchy -top eq
equiv_struct
equiv_simple -seq 2
equiv_induct -seq 2
equiv_status -assert
YS
r=0
nice -n 10 yosys -q -l "$d/log.txt" -s "$d/eq.ys" > /dev/null 2>&1 || r=$?
grep -m1 "Number of cells" "$d/stat.txt" 2>/dev/null | sed "s/^ */old_${top}: /" || true
grep -E "Found [0-9]+ .equiv|Of those cells|Unproven|ERROR" "$d/log.txt" | tail -6
echo "verdict: $([ $r = 0 ] && echo equivalent || echo NOT proven) (yosys exit $r, work files in $d)"
exit $r
