# Shared by the wrk scripts (ab-writes.sh, writes-by-thread.sh); sourced,
# not run. Serves a copy of a database the benchmark kept and writes the
# random assign/unassign load, so both scripts measure the same thing.
#
# Needs wrk, curl and python3; `prepare` says which one is missing.

need_tools() {
    local tool
    for tool in wrk curl python3; do
        command -v "$tool" >/dev/null || { echo "$(basename "$0"): needs $tool" >&2; exit 2; }
    done
}

# What every script does first: checks the tools, makes a scratch
# directory `work` (removed on exit, with any server still running) and the
# write load's wrk script in it, `$work/writes.lua`.
prepare() {
    need_tools
    work=$(mktemp -d)
    pid=
    trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
    writes_lua "$work/writes.lua"
}

# Writes to FILE a wrk script of random assign/unassign pairs: each
# connection assigns a pair, then unassigns it, so almost every request
# writes one event.
writes_lua() {
    cat >"$1" <<'LUA'
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
}

# serve BIN SRC_DB DIR: copies SRC_DB (and its `-views` file, if there) into
# DIR, starts BIN serve on it on a free loopback port, waits for its first
# answer and logs in as the benchmark's admin. Sets `pid`, `url`, `token`
# and `start_ms` (spawn to first answer).
serve() {
    local bin=$1 src=$2 dir=$3
    local db=$dir/rollcall.db
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$src" "$db"
    if [ -f "$src-views" ]; then cp "$src-views" "$db-views"; fi
    local port started
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    url=http://127.0.0.1:$port
    started=$(date +%s%N)
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
    pid=$!
    until curl -s -o /dev/null "$url/healthz"; do
        kill -0 "$pid" 2>/dev/null || { echo "$(basename "$0"): $bin serve exited:" >&2; cat "$dir/serve.log" >&2; exit 1; }
        sleep 0.001
    done
    start_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    token=$(curl -s "$url/dmadminweb/API/login?user=admin&pass=bench-admin-password" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
}

# Stops the server `serve` started.
stop_serving() {
    kill -INT "$pid"; wait "$pid" || true
    pid=
}
