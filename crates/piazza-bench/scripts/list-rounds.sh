#!/usr/bin/env bash
# Alternating LIST rounds of pizza-apiserver binaries, a fresh embedded server per binary and
# round: LISTs of OBJECTS pizzas at -c 16, warmed up for 2 s per format, then measured for 6 s
# per format with the server's CPU read from /proc. Prints, per binary and format, LISTs/s,
# p50 and milliseconds of server CPU per LIST.
#
#   crates/piazza-bench/scripts/list-rounds.sh ROUNDS SERVER_BINARY...
#
# Environment: BENCH (the piazza-bench binary, default target/release/piazza-bench),
# FORMATS (default "json"; "json protobuf" measures both on one server), OBJECTS (10000),
# PORT (18443), WORK (a scratch directory, default a new one under /tmp).
set -euo pipefail
rounds=$1
shift
bench=${BENCH:-target/release/piazza-bench}
formats=${FORMATS:-json}
objects=${OBJECTS:-10000}
port=${PORT:-18443}
work=${WORK:-$(mktemp -d /tmp/list-rounds.XXXXXX)}

for round in $(seq "$rounds"); do
  n=0
  for server in "$@"; do
    n=$((n + 1))
    dir=$work/server$n
    rm -rf "$dir" && mkdir -p "$dir"
    "$server" --bind-address 127.0.0.1 --secure-port "$port" --data-dir "$dir" > "$dir.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -f "$dir/kubeconfig" ] && break; sleep 0.1; done
    sleep 0.5
    for format in $formats; do
      "$bench" scenario list --objects "$objects" --kubeconfig "$dir/kubeconfig" -c 16 -z 2s --format "$format" > /dev/null
    done
    for format in $formats; do
      "$bench" scenario list --objects "$objects" --kubeconfig "$dir/kubeconfig" --server-pid "$pid" \
        -c 16 -z 6s --format "$format" --json > "$work/$n-$format-$round.json"
    done
    kill "$pid"
    wait "$pid" 2> /dev/null || true
  done
done

python3 - "$work" "$rounds" "$#" "$formats" <<'PY'
import json, sys
work, rounds, servers, formats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split()
for n in range(1, servers + 1):
    for f in formats:
        rows = []
        for r in range(1, rounds + 1):
            for report in json.load(open(f"{work}/{n}-{f}-{r}.json")):
                cpu = report["server_rss"]["cpu_cores"]
                rows.append((report["throughput"], report["latency"]["p50_ms"], 1000 * cpu / report["throughput"]))
        mean = sum(row[2] for row in rows) / len(rows)
        print(f"server {n} {f}: LISTs/s", " ".join(f"{row[0]:.0f}" for row in rows),
              "| p50 ms", " ".join(f"{row[1]:.0f}" for row in rows),
              "| server CPU ms per LIST", " ".join(f"{row[2]:.2f}" for row in rows), f"| mean {mean:.2f}")
PY
