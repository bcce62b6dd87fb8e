#!/usr/bin/env bash
# CPU per durable write, thread by thread (tokio's workers, the log writer,
# the view writer), for one rollcall binary or two alternated, each on a
# copy of a database the benchmark kept (`rollcall-bench --keep`). A rate
# moves with the machine; the CPU a thread spends per write moves much
# less, and says which thread a change to the write path helped.
#
# Each round: start `rollcall serve` on a fresh copy, log in, 2 s of `wrk`
# warm-up, then SECONDS of `wrk` (2 threads, 64 connections) assigning and
# unassigning random pairs through the compat API; the threads' user and
# system time (/proc/PID/task/*/stat) over the measured run, divided by the
# requests wrk counted.
#
# Needs wrk, curl and python3. The database must be one the benchmark built
# (its admin password, user and group names).
# Usage: benches/writes-by-thread.sh ROUNDS SECONDS BIN_A DB_A [BIN_B DB_B]
#   DB_x is the database file; its `-views` file is copied with it if there.
set -euo pipefail
[ $# -eq 4 ] || [ $# -eq 6 ] || { sed -n 2,17p "$0"; exit 2; }
rounds=$1 seconds=$2
shift 2
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "writes-by-thread: needs $tool" >&2; exit 2; }
done
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

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

# CPU ticks per thread name, summed over threads of the same name.
ticks() {
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(awk '{ print $14 + $15 }' "$t/stat")"
    done | awk '{ a[$1] += $2 } END { for (k in a) print k, a[k] }' | sort
}

one() {
    local label=$1 bin=$2 src=$3 db=$work/db/rollcall.db
    rm -rf "$work/db"; mkdir -p "$work/db"
    cp "$src" "$db"
    if [ -f "$src-views" ]; then cp "$src-views" "$db-views"; fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local url=http://127.0.0.1:$port
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    pid=$!
    until curl -s -o /dev/null "$url/healthz"; do sleep 0.01; done
    local token
    token=$(curl -s "$url/dmadminweb/API/login?user=admin&pass=bench-admin-password" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
    wrk -t2 -c64 -d2s -s "$work/writes.lua" -H "Cookie: token=$token" "$url" >/dev/null
    ticks "$pid" >"$work/before"
    local out
    out=$(wrk -t2 -c64 -d"${seconds}s" -s "$work/writes.lua" -H "Cookie: token=$token" "$url")
    ticks "$pid" >"$work/after"
    kill -INT "$pid"; wait "$pid" || true
    pid=
    local requests rate hz
    requests=$(echo "$out" | awk '/requests in/ { print $1 }')
    rate=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
    hz=$(getconf CLK_TCK)
    printf '%s  %s writes/s ' "$label" "$rate"
    join "$work/before" "$work/after" | awk -v n="$requests" -v hz="$hz" \
        '{ us = ($3 - $2) * 1e6 / hz / n; if (us >= 0.05) printf " %s %.1f", $1, us } END { print "  (us of CPU per write)" }'
}

for _ in $(seq "$rounds"); do
    one A "$1" "$2"
    if [ $# -eq 4 ]; then one B "$3" "$4"; fi
done
