#!/usr/bin/env bash
# Benchmark: memory of one `hrsync run` process serving many tenants (issue 7, item 4).
# Starts the UKG simulator and the small SCIM app as separate processes, writes a config
# with N tenants (each syncs the same 5-employee roster), runs `hrsync run` until every
# tenant finished its first run under the global cap, then reports peak RSS (all tenants
# running, max_concurrent_runs at a time) and RSS once idle. Usage: scripts/bench-tenants.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release --quiet --bin hrsync --bin hrsync-sim
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ukg=$(port); scim=$(port); listen=$(port)
./target/release/hrsync-sim ukg --addr "127.0.0.1:$ukg" --employees 5 >/dev/null 2>&1 &
./target/release/hrsync-sim scim --addr "127.0.0.1:$scim" --token tok >/dev/null 2>&1 &
{
  printf '[service]\ndata_dir = "%s/data"\nlisten = "127.0.0.1:%s"\nstart_spread = "10s"\n' "$dir" "$listen"
  for i in $(seq -w 1 "$n"); do
    printf '\n[[tenants]]\nid = "t%s"\ntechnical_contact = "it@t%s.example"\n' "$i" "$i"
    printf '[tenants.ukg]\nbase_url = "http://127.0.0.1:%s"\nusername = "hrsync"\npassword_env = "BENCH_PW"\napi_key_env = "BENCH_KEY"\nrequests_per_second = 50\n' "$ukg"
    printf '[tenants.scim]\nbase_url = "http://127.0.0.1:%s/scim/v2"\ntoken_env = "BENCH_TOKEN"\nrequests_per_second = 50\n' "$scim"
  done
} > "$dir/hrsync.toml"
sleep 1
start=$(date +%s)
BENCH_PW=secret BENCH_KEY=ABCDE BENCH_TOKEN=tok ./target/release/hrsync run --config "$dir/hrsync.toml" >"$dir/log" 2>&1 &
pid=$!
done_count=0
while [ "$done_count" -lt "$n" ]; do
  sleep 2
  done_count=$(curl -s "http://127.0.0.1:$listen/status" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tenants"]; print(sum(1 for v in t.values() if v["last_run"]))' 2>/dev/null || echo 0)
  [ $(( $(date +%s) - start )) -lt 900 ] || { echo "timed out with $done_count/$n done"; exit 1; }
done
all_done=$(( $(date +%s) - start ))
peak=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
sleep 15
idle=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
ok=$(curl -s "http://127.0.0.1:$listen/status" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tenants"]; print(sum(1 for v in t.values() if v["last_run"]["outcome"] in ("ok","completed_with_failures")))')
kill -TERM $pid; wait $pid || true
echo "tenants $n: all first runs done in ${all_done}s ($ok completed); peak RSS $((peak / 1024)) MiB while running; idle RSS $((idle / 1024)) MiB"
