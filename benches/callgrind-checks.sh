#!/usr/bin/env bash
# Instructions per access check, counted by callgrind: a figure that, unlike
# a rate, does not move with the machine's load. Builds the --quick data set
# with rollcall-bench, then sends the same 3,000 checks (after 600 for
# warm-up, one after another on one keep-alive connection) to `rollcall
# serve` and to the benchmark's ceiling server, each under callgrind with
# its counters zeroed after the warm-up, and prints instructions per request
# for both. Two runs of the same binaries agree to within about 1% (ids,
# tokens and timestamps are random, and the scheduler's wake-ups vary).
#
# Needs valgrind (callgrind_control, callgrind_annotate), curl and python3.
# Usage: benches/callgrind-checks.sh [--db FILE] [--cache] [ROLLCALL_BINARY]
#   --db FILE  measure on a copy of FILE (a database `rollcall-bench --keep`
#              left, e.g. the full data set) instead of a new --quick one
#   --cache    simulate the caches too, and print first-level data-cache
#              misses per request beside the instructions (the full data
#              set's lookups miss the cache; instructions alone hide that)
set -euo pipefail

given_db=
cache=
while [ $# -gt 0 ]; do
    case $1 in
        --db) given_db=$(realpath "$2"); shift 2 ;;
        --cache) cache=1; shift ;;
        *) break ;;
    esac
done

cd "$(dirname "$0")/.."
for tool in valgrind callgrind_control callgrind_annotate curl python3; do
    command -v "$tool" >/dev/null || { echo "callgrind-checks: needs $tool" >&2; exit 2; }
done
cargo build --release -q -p rollcall -p rollcall-bench
bin=${1:-target/release/rollcall}
bench=target/release/rollcall-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$given_db" ]; then
    db=$work/given.db
    cp "$given_db" "$db"
    cp "$given_db-views" "$db-views"
else
    echo "callgrind-checks: building the --quick data set" >&2
    "$bench" --quick --keep --dir "$work" --rollcall "$bin" >/dev/null 2>"$work/bench.err"
    db=$(sed -n 's/^rollcall-bench: kept the database: //p' "$work/bench.err")
    [ -f "$db" ] || { echo "callgrind-checks: no database kept" >&2; cat "$work/bench.err" >&2; exit 1; }
fi
sim=()
[ -n "$cache" ] && sim=(--cache-sim=yes)

# The checks: random users, objects with grants of their own, permissions;
# seeded, so every run sends the same ones.
python3 - "$db" "$work/paths" <<'EOF'
import random, sqlite3, sys
db, out = sys.argv[1], sys.argv[2]
views = sqlite3.connect(db + "-views")  # the views' own file, beside the database
objects = [r[0] for r in views.execute(
    "SELECT DISTINCT object FROM view_grants WHERE object NOT LIKE 'domain:%' ORDER BY object")]
users = views.execute("SELECT count(*) FROM view_users").fetchone()[0] - 1
rng = random.Random(7)
with open(out, "w") as f:
    for _ in range(3600):
        u = rng.randrange(users)
        f.write(f"/api/v1/check?user=u{u:06d}&object={rng.choice(objects)}"
                f"&permission={rng.choice(['view', 'update', 'read', 'write'])}\n")
EOF

# curl config files for the warm-up and the measured requests against ADDR.
configs() {
    local addr=$1
    head -600 "$work/paths" | sed "s|.*|url = \"http://$addr&\"\noutput = /dev/null|" >"$work/warm.cfg"
    tail -3000 "$work/paths" | sed "s|.*|url = \"http://$addr&\"\noutput = /dev/null|" >"$work/measure.cfg"
}

# Runs the warm-up and the measured requests against the callgrind process
# PID at ADDR with COOKIE; prints instructions per measured request.
measure() {
    local pid=$1 addr=$2 cookie=$3 out=$4
    configs "$addr"
    curl -s -K "$work/warm.cfg" -b "$cookie" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    curl -s -K "$work/measure.cfg" -b "$cookie" >/dev/null
    callgrind_control -d "$pid" >/dev/null 2>&1
    # TERM, not INT: a job a script starts in the background ignores SIGINT
    # unless it handles the signal itself, and the ceiling server does not.
    # This runs in a subshell, which cannot `wait` for it: poll (10 s at
    # most, then KILL).
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    # The totals line: Ir first; with the cache simulated, D1mr is the fifth
    # of Ir Dr Dw I1mr D1mr ...
    callgrind_annotate "$out".*.1 2>/dev/null | grep 'PROGRAM TOTALS' | tr -d , |
        awk -v cache="$cache" '{ if (cache) printf "%d instructions, %d D1 read misses\n", $1 / 3000, $9 / 3000; else printf "%d instructions\n", $1 / 3000 }'
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$work/rc.%p" \
    "$bin" serve --db "$db" --listen "$addr" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 600); do curl -s -o /dev/null "http://$addr/healthz" && break; sleep 0.1; done
token=$(curl -s "http://$addr/dmadminweb/API/login?user=admin&pass=bench-admin-password" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
rollcall=$(measure "$pid" "$addr" "token=$token" "$work/rc")

valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$work/ceiling.%p" \
    "$bench" __ceiling-server >"$work/ceiling.addr" 2>"$work/ceiling.log" &
pid=$!
for _ in $(seq 600); do [ -s "$work/ceiling.addr" ] && break; sleep 0.1; done
ceiling=$(measure "$pid" "$(head -1 "$work/ceiling.addr")" "token=0" "$work/ceiling")

echo "rollcall: $rollcall per check"
echo "ceiling:  $ceiling per request"
python3 -c "print(f'ratio:    {${rollcall%% *} / ${ceiling%% *}:.2f}x')"
