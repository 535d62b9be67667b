#!/bin/sh
# Instructions per `authenticate` call, by variant, under callgrind.
# Usage: crates/keygate-core/examples/authn_count.sh [requests] [keys] [variants...]
set -eu
n=${1:-2000}; keys=${2:-1000000}; shift 2 2>/dev/null || true
variants=${*:-api_key session rs256_cached rs256_uncached es256_uncached}
cargo build --release -q -p keygate-core --example authn_count
bin=target/release/examples/authn_count
out=$(mktemp -d)
for v in $variants; do
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
    --callgrind-out-file="$out/$v.out" "$bin" "$v" "$n" "$keys" 2>"$out/$v.log"
  total=$(sed -n 's/^summary: //p' "$out/$v.out")
  echo "$v: $((total / n)) instructions per authenticate ($n requests)"
done
echo "profiles in $out (callgrind_annotate $out/<variant>.out)"
