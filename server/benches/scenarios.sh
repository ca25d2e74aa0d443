#!/usr/bin/env bash
# The load scenarios of BENCHMARKS.md, one command each: `make scenario N=1` (or run this file
# with the scenario's number). Server on core 0, load generator on core 1, loopback, release builds.
# Prints the load generator's report; exits non-zero if any event was lost or duplicated.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:?usage: scenarios.sh 1|2|3|4|5-ws|5-poll|5-ws-faults|5-poll-faults|idle|bus|bus-faults|bus-hop|slowloris|idle-sockets|nonreaders|fuzz|soak|bus-kill|gen-kill|peer-sse|peer-ws|transports|depth|market|accounts|alerts}
port=${PORT:-3300}
# Built as cargo-leptos builds it (it sets LEPTOS_OUTPUT_NAME at compile time): without it the
# binary's page asks for `tickertape_bg.wasm` and never hydrates, and every switch between this
# script and `make build` would recompile the Leptos crates.
export LEPTOS_OUTPUT_NAME=tickertape
# BIN=path runs another build of the server (an A/B pair in one session: build the other commit,
# copy its binary aside, run both).
bin=${BIN:-./target/release/tickertape}
# A store of the run's own, never the dashboard's tickertape.db (nor one that another build's
# migrations have moved on: a binary refuses a database newer than itself).
bench_db=$(mktemp -d)
export DATABASE_URL=${DATABASE_URL:-sqlite://$bench_db/bench.db}

wait_healthy() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done; echo "port $1 never became healthy" >&2; exit 1; }

# Scale-out over Redis: a redis-server, one generator and two edge nodes (one per core), the
# load generator spread over both cores with half the clients on each edge (bus, bus-faults:
# reconnecting clients resume on the other edge); then, for comparison in the same run, the
# embedded node with the same load. bus-hop measures the latency the Redis hop adds: a light
# load (50 clients) on an embedded node, then on a ROLE=all node publishing through Redis, then
# the hop alone in microseconds (the events' timestamps have millisecond resolution).
bus_scenario() {
  local mode=$1 rport=$((port + 10))
  command -v redis-server >/dev/null || { echo "redis-server is needed (make test installs it)" >&2; exit 1; }
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen --example bushop
  ulimit -n "$(ulimit -Hn)"
  pids=()   # global: the EXIT trap runs after this function has returned
  trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local bus="redis://127.0.0.1:$rport" common=(env TICK_RATE_HZ=10 MARKET_SEED=1 HISTORY_FRAMES=3000 RUST_LOG=warn)
  local load=(--clients 1000 --ramp 10 --duration 60 --seed 1 --rate 10)
  [ "$mode" = hop ] && load=(--clients 50 --ramp 2 --duration 20 --seed 1 --rate 10)
  [ "$mode" = faults ] && load+=(--faults --fault-mean 5)

  if [ "$mode" = hop ]; then
    echo "== embedded node (core 0), load generator on core 1"
    "${common[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$port taskset -c 0 ./target/release/tickertape & pids+=($!)
    wait_healthy "$port"
    taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "${pids[-1]}" "${load[@]}"
    kill "${pids[-1]}"
    echo "== ROLE=all through Redis (node and redis-server on core 0), load generator on core 1"
    "${common[@]}" MARKET_BUS=$bus ROLE=all LEPTOS_SITE_ADDR=127.0.0.1:$((port + 1)) taskset -c 0 ./target/release/tickertape & pids+=($!)
    wait_healthy $((port + 1))
    taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$((port + 1))" --server-pid "${pids[-1]}" "${load[@]}"
    kill "${pids[-1]}"
    echo "== the hop alone, in microseconds (server/examples/bushop.rs), 100 Hz"
    redis-cli -p "$rport" flushall >/dev/null
    ./target/release/examples/bushop --bus "$bus"
    return
  fi
  echo "== generator on core 0; edge A on core 0, edge B on core 1; load generator on both cores"
  "${common[@]}" MARKET_BUS=$bus ROLE=generator LEPTOS_SITE_ADDR=127.0.0.1:$((port + 2)) taskset -c 0 ./target/release/tickertape & pids+=($!)
  wait_healthy $((port + 2))
  "${common[@]}" MARKET_BUS=$bus ROLE=edge LEPTOS_SITE_ADDR=127.0.0.1:$port taskset -c 0 ./target/release/tickertape & pids+=($!)
  local a=$!
  "${common[@]}" MARKET_BUS=$bus ROLE=edge LEPTOS_SITE_ADDR=127.0.0.1:$((port + 1)) taskset -c 1 ./target/release/tickertape & pids+=($!)
  local b=$!
  wait_healthy "$port"; wait_healthy $((port + 1))
  ./target/release/examples/loadgen --url "http://127.0.0.1:$port,http://127.0.0.1:$((port + 1))" \
    --server-pid "$a,$b" "${load[@]}"
  kill "$a" "$b"
  echo "== embedded node on core 0 with the same load, load generator on both cores"
  "${common[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$((port + 3)) taskset -c 0 ./target/release/tickertape & pids+=($!)
  wait_healthy $((port + 3))
  ./target/release/examples/loadgen --url "http://127.0.0.1:$((port + 3))" --server-pid "${pids[-1]}" "${load[@]}"
}

# Hostile clients beside a normal load: the server on core 0 with its default limits; on core 1,
# first 1 000 well-behaved SSE clients alone (loadgen, 30 s), for comparison in the same run;
# then the same clients again and, once they are connected, the hostile ones
# (server/examples/hostile.rs). The normal clients' p99 and loss, against the first run, say what
# the hostile ones cost everyone else; hostile.rs says what the server did with them.
hostile_scenario() {
  local mode=$1 sockets=$2
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen --example hostile
  start_server
  local normal=(--url "http://127.0.0.1:$port" --server-pid "$server" --clients 1000 --ramp 10 --seed 1 --rate 10)
  echo "== the 1 000 normal clients alone"
  taskset -c 1 ./target/release/examples/loadgen "${normal[@]}" --duration 30
  echo "== the same beside the hostile ones ($mode, $sockets)"
  taskset -c 1 ./target/release/examples/loadgen "${normal[@]}" --duration 40 &
  local load=$!
  sleep 12
  taskset -c 1 ./target/release/examples/hostile --addr "127.0.0.1:$port" --mode "$mode" --sockets "$sockets" \
    --duration 40 --server-pid "$server"
  wait "$load"
}

# The server alone on core 0 at 10 Hz, as scenario 1 runs it; stopped when the script exits.
start_server() {
  ulimit -n "$(ulimit -Hn)"
  TICK_RATE_HZ=10 MARKET_SEED=1 HISTORY_FRAMES=3000 LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=${RUST_LOG:-warn} \
    LEPTOS_SITE_ROOT=target/no-site taskset -c 0 "$bin" &
  server=$! # global: the EXIT trap runs after the calling function has returned
  trap 'kill $market_server 2>/dev/null || true' EXIT
  wait_healthy "$port"
}

# A soak: 1 000 SSE clients with random disconnects for SOAK_SECS (default 30 minutes), the
# server's RSS and open descriptors sampled every minute, before, during and after. A twin
# server with the same market and no clients runs beside it (same core): the market's own data
# (history, candles) grows during the first minutes whatever the clients do, so "back to
# baseline" means back to what the twin holds at the same moment.
soak_scenario() {
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen
  start_server
  TICK_RATE_HZ=10 MARKET_SEED=1 HISTORY_FRAMES=3000 LEPTOS_SITE_ADDR=127.0.0.1:$((port + 5)) RUST_LOG=warn \
    LEPTOS_SITE_ROOT=target/no-site taskset -c 0 "$bin" &
  twin=$!
  trap 'kill $server $twin 2>/dev/null || true' EXIT
  wait_healthy $((port + 5))
  rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
  sample() {
    local a b
    a=$(rss "$server"); b=$(rss "$twin")
    echo "$1 t=$(date +%s) rss_kb=$a twin_rss_kb=$b over_twin_kb=$((a - b)) fds=$(ls /proc/$server/fd | wc -l) twin_fds=$(ls /proc/$twin/fd | wc -l)"
  }
  sample baseline
  taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$server" \
    --clients 1000 --ramp 10 --duration "${SOAK_SECS:-1800}" --faults --fault-mean 5 --seed 1 --rate 10 &
  local load=$!
  while kill -0 "$load" 2>/dev/null; do
    sleep 60
    sample during
  done
  wait "$load"
  sleep 5
  sample after-5s
  # The server hands freed memory back every 30 s (TRIM_EVERY in server/src/main.rs).
  sleep 30
  sample after-35s
}

# Tickertape's SSE against a plain Node SSE server carrying the very same events
# (server/benches/peers/sse.mjs), in one run, twice over: scenario 1's load (1 000 clients at
# 10 Hz, PEER_SECS seconds, default 30), the server under test on core 0 and the load generator on
# core 1. The Node server takes its events from a Tickertape on core 1 (one upstream client), so
# the quotes, bytes and ids are the same and loss is checked against the same replay.
peer_sse_scenario() { peer_scenario sse sse.mjs sse "plain Node SSE"; }

# Against Socket.IO 4: Tickertape's WebSocket on core 0, then a Socket.IO server
# (server/benches/peers/socketio.mjs, fed by a Tickertape on core 1) on core 0, the same 1 000
# clients × 10 Hz from the load generator on core 1 (it speaks Engine.IO v4 for Socket.IO), twice
# over. Installs the npm `socket.io` package beside the peer once (not part of `make test`).
# PEER_SECS sets each run's length (30 s).
peer_ws_scenario() {
  command -v node >/dev/null || { echo "Node.js is needed for the Socket.IO peer" >&2; exit 1; }
  install_socketio
  peer_scenario ws socketio.mjs socketio "Socket.IO 4"
}

install_socketio() {
  [ -d server/benches/peers/node_modules/socket.io ] || {
    echo "==> installing socket.io 4 for the benchmark peer (once)"
    npm install --no-save --no-audit --no-fund --prefix server/benches/peers socket.io@4 >/dev/null
  }
}

# One peer comparison: Tickertape over transport $1, then the Node peer $2 (server/benches/peers/)
# read as transport $3 and named $4 in the report; twice over.
peer_scenario() {
  local ours_transport=$1 script=$2 peer_transport=$3 name=$4
  command -v node >/dev/null || { echo "node is needed" >&2; exit 1; }
  peer_setup
  for round in 1 2; do
    run_ours "$round" "$ours_transport"
    run_peer "$round" "$script" "$peer_transport" "$name"
  done
}

# What every way of delivering the same events costs, in one run, twice over (BENCHMARKS.md,
# "Every transport in one run"): Tickertape's SSE, WebSocket and long polling, the Socket.IO 4 and
# plain Node SSE peers, and the kernel's floor (server/examples/floor.rs), each with scenario 1's
# load (1 000 clients at 10 Hz for PEER_SECS seconds, default 30) on core 0, the load generator on
# core 1.
transports_scenario() {
  command -v node >/dev/null || { echo "Node.js is needed for the peers" >&2; exit 1; }
  install_socketio
  cargo build --release -q -p tickertape-server --example floor
  peer_setup
  for round in 1 2; do
    for transport in sse ws poll; do run_ours "$round" "$transport"; done
    run_peer "$round" socketio.mjs socketio "Socket.IO 4"
    run_peer "$round" sse.mjs sse "plain Node SSE"
    echo "== round $round: the kernel's floor on core 0"
    # Events as large as Tickertape's SSE events (705 bytes on the wire, BENCHMARKS.md).
    taskset -c 0 ./target/release/examples/floor --addr "127.0.0.1:$port" --hz 10 --bytes 705 & pids+=($!)
    local floor=$!
    wait_healthy "$port"
    taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$floor" \
      --clients 1000 --ramp 10 --duration "${PEER_SECS:-30}"
    kill "$floor"; wait "$floor" 2>/dev/null || true
  done
}

# What the peer scenarios share: the binaries, the open-file limit, and the servers stopped on exit.
peer_setup() {
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen
  ulimit -n "$(ulimit -Hn)"
  pids=()   # global: the EXIT trap runs after the scenario's function has returned
  trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
  peer_env=(env TICK_RATE_HZ=10 MARKET_SEED=1 HISTORY_FRAMES=3000 RUST_LOG=warn LEPTOS_SITE_ROOT=target/no-site)
  peer_load=(--clients 1000 --ramp 10 --duration "${PEER_SECS:-30}" --seed 1 --rate 10)
}

# Tickertape over transport $2 on core 0, the load generator on core 1 (round $1).
run_ours() {
  local round=$1 transport=$2
  echo "== round $round: Tickertape ($transport) on core 0"
  "${peer_env[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$port taskset -c 0 "$bin" & pids+=($!)
  local ours=$!
  wait_healthy "$port"
  taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$ours" \
    --transport "$transport" "${peer_load[@]}"
  wire_report "$port" "$transport"
  kill "$ours"; wait "$ours" 2>/dev/null || true
}

# The server's own count of transport $2's bytes on the wire per event, heads and framing
# included (GET /api/wire on port $1), over the server's life.
wire_report() {
  curl -sf "http://127.0.0.1:$1/api/wire" | node -e '
    const t = JSON.parse(require("fs").readFileSync(0, "utf8")).transports.find((c) => c.transport === process.argv[1]);
    console.log(`server-counted     ${((t.sent + t.received) / t.events).toFixed(0)} bytes on the wire / event (sent ${(t.sent / t.events).toFixed(0)}, received ${(t.received / t.events).toFixed(0)})`);
  ' "$2"
}

# The Node peer $2 on core 0, fed by a Tickertape on core 1, read as transport $3 and named $4
# (round $1).
run_peer() {
  local round=$1 script=$2 peer_transport=$3 name=$4
  echo "== round $round: $name on core 0, fed by a Tickertape on core 1"
  "${peer_env[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$((port + 1)) taskset -c 1 "$bin" & pids+=($!)
  local upstream=$!
  wait_healthy $((port + 1))
  taskset -c 0 node "server/benches/peers/$script" "http://127.0.0.1:$((port + 1))" $((port + 2)) & pids+=($!)
  local peer=$!
  wait_healthy $((port + 2))
  taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$((port + 2))" --server-pid "$peer" \
    --transport "$peer_transport" "${peer_load[@]}"
  kill "$peer" "$upstream"; wait "$peer" "$upstream" 2>/dev/null || true
}

# What following a book costs: one server on core 0, 1 000 SSE clients × 10 Hz on core 1, first
# with quotes only, then each also following one symbol's book and prints (depth=AAPL), twice
# over (off, on, off, on) in the same run, so the ratio is measured on the same machine minutes
# apart. DEPTH_SECS sets each run's length (30 s).
depth_scenario() {
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen
  ulimit -n "$(ulimit -Hn)"
  TICK_RATE_HZ=10 MARKET_SEED=1 HISTORY_FRAMES=3000 RUST_LOG=warn LEPTOS_SITE_ROOT=target/no-site \
    LEPTOS_SITE_ADDR=127.0.0.1:$port taskset -c 0 "$bin" &
  depth_server=$!   # global: the EXIT trap runs after this function has returned
  trap 'kill "$depth_server" 2>/dev/null || true' EXIT
  wait_healthy "$port"
  local load=(--clients 1000 --ramp 10 --duration "${DEPTH_SECS:-30}" --seed 1 --rate 10)
  for round in 1 2; do
    for depth in off on; do
      echo "== round $round: depth $depth"
      local extra=()
      [ "$depth" = on ] && extra=(--depth AAPL)
      taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$depth_server" "${load[@]}" "${extra[@]}"
    done
  done
}

# A process of the bus killed (-9) under load: a generator and two edges, 1 000 clients split
# over the edges; 20 s into the run the victim is killed and, 2 s later, started again.
# - bus-kill: redis-server, restarted empty (no persistence). The generator queues its frames
#   meanwhile and writes them to the new Redis; the clients must lose nothing, and are resynced
#   only if frames they had not read died with the old Redis.
# - gen-kill: the generator. The frames it had not written yet are gone; the new generator
#   starts a new epoch of the same seeded market, so every client gets exactly one resync and
#   nothing is lost or duplicated within either epoch (the load generator checks each epoch
#   against a replay of the market).
kill_scenario() {
  local victim=$1 rport=$((port + 10))
  command -v redis-server >/dev/null || { echo "redis-server is needed (make test installs it)" >&2; exit 1; }
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen
  ulimit -n "$(ulimit -Hn)"
  pids=()   # global: the EXIT trap runs after this function has returned
  trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
  start_redis() {
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
    redis=$!
    pids+=($redis)
    for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  }
  local bus="redis://127.0.0.1:$rport" common=(env TICK_RATE_HZ=10 MARKET_SEED=1 HISTORY_FRAMES=3000 RUST_LOG=warn)
  start_generator() {
    "${common[@]}" MARKET_BUS=$bus ROLE=generator LEPTOS_SITE_ADDR=127.0.0.1:$((port + 2)) taskset -c 0 "$bin" &
    generator=$!
    pids+=($generator)
    wait_healthy $((port + 2))
  }
  start_redis
  start_generator
  "${common[@]}" MARKET_BUS=$bus ROLE=edge LEPTOS_SITE_ADDR=127.0.0.1:$port taskset -c 0 "$bin" & pids+=($!)
  local a=$!
  "${common[@]}" MARKET_BUS=$bus ROLE=edge LEPTOS_SITE_ADDR=127.0.0.1:$((port + 1)) taskset -c 1 "$bin" & pids+=($!)
  local b=$!
  wait_healthy "$port"; wait_healthy $((port + 1))
  ./target/release/examples/loadgen --url "http://127.0.0.1:$port,http://127.0.0.1:$((port + 1))" \
    --server-pid "$a,$b" --clients 1000 --ramp 10 --duration 40 --seed 1 --rate 10 &
  local load=$!
  sleep 20
  if [ "$victim" = redis ]; then
    echo "== kill -9 redis-server; a new, empty one 2 s later"
    kill -9 "$redis"
    sleep 2
    start_redis
  else
    echo "== kill -9 the generator; a new one 2 s later"
    kill -9 "$generator"
    sleep 2
    start_generator
  fi
  wait "$load"
}

# The market's statistical signature (BENCHMARKS.md, "A market a trader would believe"): a server
# with the default universe and 8 hours of past, read over HTTP by server/examples/market.rs, then
# the same table over 30 seeds simulated the way a server simulates its past.
market_scenario() {
  cargo build --release -q -p tickertape-server --bin tickertape --example market
  MARKET_SEED=${SEED:-1} PAST_HOURS=8 LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=${RUST_LOG:-warn} \
    LEPTOS_SITE_ROOT=target/no-site "$bin" &
  market_server=$!   # global: the EXIT trap runs after this function has returned
  trap 'kill $market_server 2>/dev/null || true' EXIT
  wait_healthy "$port"
  echo "== a server (MARKET_SEED=${SEED:-1}, PAST_HOURS=8)"
  ./target/release/examples/market --url "http://127.0.0.1:$port"
  kill "$market_server"
  echo
  echo "== 30 seeds, simulated here as a server simulates its past"
  ./target/release/examples/market --seeds 1-30 --hours 8
}

# Scenario 1's load (1 000 SSE clients × 10 Hz, 60 s) on a server with the store DATABASE_URL=$1,
# the server on core 0 and the load generator on core 1; the other arguments go to the load
# generator.
store_run() {
  local db=$1; shift
  DATABASE_URL="$db" TICK_RATE_HZ=10 MARKET_SEED=1 RUST_LOG=warn \
    LEPTOS_SITE_ADDR=127.0.0.1:$port taskset -c 0 "$bin" &
  store_server=$!   # global: the EXIT trap runs after this function has returned
  trap 'kill $store_server 2>/dev/null || true' EXIT
  wait_healthy "$port"
  taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$store_server" \
    --clients 1000 --ramp 10 --duration 60 --seed 1 --rate 10 "$@"
  kill "$store_server"; wait "$store_server" 2>/dev/null || true
}

# Signed-in streams against anonymous ones (BENCHMARKS.md, "Signed-in streams"): scenario 1's
# load (1 000 SSE clients, 10 Hz, server on core 0, load generator on core 1) on a fresh server,
# first anonymous, then anonymous with a hundred bare REST calls a second (the floor a change
# stands on), then as 100 users with 10 tabs each, every user changing a watchlist every second;
# each with a store of its own (an SQLite file in a temporary directory).
accounts_scenario() {
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen
  ulimit -n "$(ulimit -Hn)"
  local dir; dir=$(mktemp -d)
  echo "== anonymous"
  store_run "sqlite://$dir/bench-0.db"
  # The floor under the changes: the same hundred requests a second, each the cheapest there is
  # (GET /healthz, no session, no store), beside anonymous streams.
  echo "== anonymous, and 100 GET /healthz a second (the floor of a REST call)"
  store_run "sqlite://$dir/bench-probe.db" --probes 100 --change-every 1
  echo "== 100 users × 10 tabs, a change per user per second"
  store_run "sqlite://$dir/bench-100.db" --users 100 --change-every 1
  rm -rf "$dir"
}

# Price alerts held by the engine: scenario 1's load on a server whose store has no alert, then
# on one with 100 000 (server/examples/seed_alerts.rs: levels far from the market, so none fires),
# twice over, alternated: CPU per event with and without them.
alerts_scenario() {
  cargo build --release -q -p tickertape-server --bin tickertape --example loadgen --example seed_alerts
  ulimit -n "$(ulimit -Hn)"
  local dir; dir=$(mktemp -d)
  for round in 1 2; do
    for alerts in 0 100000; do
      echo "== round $round: $alerts alerts"
      local db="sqlite://$dir/bench-$round-$alerts.db"
      [ "$alerts" = 0 ] || ./target/release/examples/seed_alerts "$db" "$alerts"
      store_run "$db"
    done
  done
  rm -rf "$dir"
}

case "$n" in
  accounts)      accounts_scenario; exit ;;
  alerts)        alerts_scenario; exit ;;
  market)        market_scenario; exit ;;
  bus-kill)      kill_scenario redis; exit ;;
  gen-kill)      kill_scenario generator; exit ;;
  peer-sse)      peer_sse_scenario; exit ;;
  depth)         depth_scenario; exit ;;
  peer-ws)       peer_ws_scenario; exit ;;
  transports)    transports_scenario; exit ;;
  soak)          soak_scenario; exit ;;
  slowloris)     hostile_scenario slowloris 2000; exit ;;
  idle-sockets)  hostile_scenario idle 10000; exit ;;
  nonreaders)    hostile_scenario nonreader 1000; exit ;;
  fuzz)          hostile_scenario fuzz 10000; exit ;;
  1)             rate=10;   args=(--clients 1000 --ramp 10 --duration 60) ;;
  2)             rate=10;   args=(--clients 10000 --ramp 30 --duration 30 --source-ips 127.0.0.2,127.0.0.3) ;;
  3)             rate=1000; args=(--clients 100 --ramp 2 --duration 20) ;;
  4)             rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --faults --fault-mean 5) ;;
  5-ws)          rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport ws) ;;
  5-poll)        rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport poll) ;;
  5-ws-faults)   rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport ws --faults --fault-mean 5) ;;
  5-poll-faults) rate=10;   args=(--clients 1000 --ramp 10 --duration 60 --transport poll --faults --fault-mean 5) ;;
  idle)          rate=0.1;  args=(--clients 1000 --ramp 5 --duration 5) ;;
  bus)           bus_scenario plain; exit ;;
  bus-faults)    bus_scenario faults; exit ;;
  bus-hop)       bus_scenario hop; exit ;;
  *) echo "unknown scenario $n" >&2; exit 2 ;;
esac

cargo build --release -q -p tickertape-server --bin tickertape --example loadgen --example floor
ulimit -n "$(ulimit -Hn)"
# SERVER=floor (or floor-uring, floor-readiness, floor-vectored) runs the same load against
# server/examples/floor.rs instead: one write per client per event and nothing else, what the
# kernel alone charges (BENCHMARKS.md, "The kernel's floor"). It streams ticks only, so scenarios
# with faults or other transports need Tickertape.
case "${SERVER:-tickertape}" in
  tickertape)
    # No site for the load servers: compressing the site's assets at launch (server/src/assets.rs)
    # leaves the heap 2–11 MB larger and fragmented, which would blur the RSS-per-connection figures.
    TICK_RATE_HZ=$rate MARKET_SEED=1 HISTORY_FRAMES=3000 LEPTOS_SITE_ADDR=127.0.0.1:$port RUST_LOG=${RUST_LOG:-warn} \
      LEPTOS_SITE_ROOT=target/no-site taskset -c 0 "$bin" & ;;
  floor|floor-uring|floor-readiness|floor-vectored)
    case "$n" in 1|2|3|idle|5-poll) ;; *) echo "SERVER=${SERVER} runs scenarios 1, 2, 3, idle and 5-poll only" >&2; exit 2 ;; esac
    mode=(); [ "$SERVER" != floor ] && mode=("--${SERVER#floor-}")
    # Events as large as Tickertape's (705 bytes an SSE event in session 10; FLOOR_BYTES to change it).
    taskset -c 0 ./target/release/examples/floor --addr "127.0.0.1:$port" --hz "$rate" --bytes "${FLOOR_BYTES:-705}" "${mode[@]}" & ;;
  *) echo "SERVER is tickertape, floor, floor-uring, floor-readiness or floor-vectored, not ${SERVER}" >&2; exit 2 ;;
esac
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# Tickertape's frames are checked against a replay of its seeded market (the floor's have none).
[ "${SERVER:-tickertape}" = tickertape ] && args+=(--seed 1 --rate "$rate")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
taskset -c 1 ./target/release/examples/loadgen --url "http://127.0.0.1:$port" --server-pid "$server" "${args[@]}" "${@:2}"
