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
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "ab-writes: needs $tool" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Random assign/unassign pairs: each connection assigns a pair, then
# unassigns it, so almost every request writes one event.
cat >"$work/writes.lua" <<'LUA'
local n, u, g = 0, 0, 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  n = n + 1
  if n % 2 == 1 then
    u = math.random(0, 99999); g = math.random(0, 9999)
    return wrk.format("GET", string.format("/dmadminweb/API/assign/user/u%06d/g%05d", u, g))
  end
  return wrk.format("GET", string.format("/dmadminweb/API/unassign/user/u%06d/g%05d", u, g))
end
LUA

one() {
    local label=$1 bin=$2 src=$3 db=$work/db/rollcall.db
    rm -rf "$work/db"; mkdir -p "$work/db"
    cp "$src" "$db"
    if [ -f "$src-views" ]; then cp "$src-views" "$db-views"; fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local url=http://127.0.0.1:$port started
    started=$(date +%s%N)
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    local pid=$!
    until curl -s -o /dev/null "$url/healthz"; do sleep 0.001; done
    local start_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    local token
    token=$(curl -s "$url/dmadminweb/API/login?user=admin&pass=bench-admin-password" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
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
    kill -INT "$pid"; wait "$pid" || true
    echo "$label  start ${start_ms} ms  as_of $as_of writes ${writes}/s  /healthz ${gauge}/s"
}

for _ in $(seq "$rounds"); do
    one A "$2" "$3"
    one B "$4" "$5"
done
