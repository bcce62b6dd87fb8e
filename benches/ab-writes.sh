#!/usr/bin/env bash
# Two rollcall binaries alternated on the same machine: start to first
# answer, `as_of` latency and the durable write rate, each on a copy of a
# database the benchmark kept (`rollcall-bench --keep`). For judging a change
# to the write path when the machine's speed drifts between full runs.
#
# Needs wrk, curl and python3. The database must be one the benchmark built
# (its admin password, user and group names).
# Usage: benches/ab-writes.sh ROUNDS BIN_A DB_A BIN_B DB_B
#   DB_x is the database file; its `-views` file is copied with it if there.
set -euo pipefail
[ $# -eq 5 ] || { sed -n 2,10p "$0"; exit 2; }
rounds=$1
. "$(dirname "$0")/served.sh"
prepare

one() {
    local label=$1
    serve "$2" "$3" "$work/db"
    local head
    head=$(curl -s -H "Cookie: token=$token" "$url/readyz" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["log_head"])')
    local as_of writes gauge
    as_of=$(wrk -t1 -c1 -d5s --latency -H "Cookie: token=$token" \
        "$url/api/v1/groups/g00000/members?as_of=$head&limit=1000" |
        awk '$1 == "50%" || $1 == "99%" { printf "%s %s  ", $1, $2 }')
    writes=$(wrk -t2 -c64 -d8s -s "$work/writes.lua" -H "Cookie: token=$token" "$url" |
        awk '/Requests\/sec/ { print $2 }')
    gauge=$(wrk -t2 -c64 -d5s "$url/healthz" | awk '/Requests\/sec/ { print $2 }')
    stop_serving
    echo "$label  start ${start_ms} ms  as_of $as_of writes ${writes}/s  /healthz ${gauge}/s"
}

for _ in $(seq "$rounds"); do
    one A "$2" "$3"
    one B "$4" "$5"
done
