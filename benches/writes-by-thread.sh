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
. "$(dirname "$0")/served.sh"
prepare

# CPU ticks per thread name, summed over threads of the same name.
ticks() {
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(awk '{ print $14 + $15 }' "$t/stat")"
    done | awk '{ a[$1] += $2 } END { for (k in a) print k, a[k] }' | sort
}

one() {
    local label=$1
    serve "$2" "$3" "$work/db"
    wrk -t2 -c64 -d2s -s "$work/writes.lua" -H "Cookie: token=$token" "$url" >/dev/null
    ticks "$pid" >"$work/before"
    local out
    out=$(wrk -t2 -c64 -d"${seconds}s" -s "$work/writes.lua" -H "Cookie: token=$token" "$url")
    ticks "$pid" >"$work/after"
    stop_serving
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
