#!/usr/bin/env bash
# The load scenarios of BENCHMARKS.md, one command each: `make scenario N=1` (or run this file
# with the scenario's number). Server on core 0, load generator on core 1, loopback, release builds.
# Prints the load generator's report; exits non-zero if any event was lost or duplicated.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:?usage: scenarios.sh 1|2|3|4|5-ws|5-poll|5-ws-faults|5-poll-faults|idle}
port=${PORT:-3300}

case "$n" in
  1)             rate=10;   args=(--clients 1000 --ramp 10 --duration 60) ;;
  2)             rate=10;   args=(--clients 10000 --ramp 30 --duration 30 --source-ips 127.0.0.2,127.0.0.3) ;;
  3)             rate=1000; args=(--clients 100 --ramp 2 --duration 20) ;;
  4)             rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --faults --fault-mean 5) ;;
  5-ws)          rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport ws) ;;
  5-poll)        rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport poll) ;;
  5-ws-faults)   rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport ws --faults --fault-mean 5) ;;
  5-poll-faults) rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport poll --faults --fault-mean 5) ;;
  idle)          rate=0.1;  args=(--clients 1000 --ramp 5 --duration 5) ;;
  *) echo "unknown scenario $n" >&2; exit 2 ;;
esac

cargo build --release -q -p tickertape-server --bin tickertape --example loadgen
ulimit -n "$(ulimit -Hn)"
TICK_RATE_HZ=$rate MARKET_SEED=1 HISTORY_FRAMES=3000 LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=warn \
  taskset -c 0 ./target/release/tickertape &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$server" "${args[@]}" "${@:2}"
