#!/usr/bin/env bash
# proxwatch benchmark: proxwatch (demo mode) side by side with node_exporter and
# Glances on this machine, measured against the budgets of DESIGN.md §6.
#
#   bench/run.sh                                   # full run (~5 min after the build)
#   BENCH_IDLE_S=5 BENCH_WRK_S=3 bench/run.sh      # quick smoke run
#
# Environment overrides (all optional):
#   BENCH_IDLE_S=60        idle window (RSS / CPU / SQLite bytes / spawns)
#   BENCH_WRK_S=15         duration of each `wrk -t2 -c16` run
#   BENCH_SEQ_S=10         duration of each `wrk -t1 -c1` (sequential) run
#   BENCH_STARTUP_RUNS=3   cold starts per program for the startup median
#   BENCH_NO_BUILD=1       skip `cargo build --release` (use the existing binary)
#   BENCH_PXW_BIN=path     proxwatch binary (default target/release/proxwatch)
#   BENCH_PXW_PATH=/api/system   proxwatch endpoint under load
#   BENCH_GLANCES_PATH=/api/4/quicklook   Glances endpoint under load
#   BENCH_STRACE_MODE=attach   force `strace -p` after the idle window instead of launching under strace
#   BENCH_KEEP_TMP=1       keep the scratch dir (logs, raw wrk and strace output)
#   BENCH_FLOOD_S=20       duration of the login flood (legitimate login latency, peak RSS)
#   BENCH_MONITOR_WARMUP_S=35  service monitors (examples/monitor_load.rs): warm-up before the window
#   BENCH_MONITOR_S=60     service monitors: the measuring window (CPU, RSS)
#   BENCH_MONITOR_DAY=1    0 = skip the monitors' two synthetic days (WAL a day, steady-state size, full runner's RSS)
#   BENCH_FLEET_WARMUP_S=25  fleet + Docker agents (examples/fleet_load.rs): warm-up before the window
#   BENCH_FLEET_S=60       fleet + Docker agents: the measuring window (CPU, RSS)
#   BENCH_FLEET_TLS=0      1 = the 32 peers over HTTPS (pinned, self-signed RSA-2048) instead of plain HTTP
#
# Only loopback addresses are used; every process started here is stopped on exit;
# every wait loop has a limit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

IDLE_S=${BENCH_IDLE_S:-60}
WRK_S=${BENCH_WRK_S:-15}
SEQ_S=${BENCH_SEQ_S:-10}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-3}
PXW_BIN=${BENCH_PXW_BIN:-target/release/proxwatch}
PXW_PATH=${BENCH_PXW_PATH:-/api/system}
GL_PATH=${BENCH_GLANCES_PATH:-/api/4/quicklook}
HOST=127.0.0.1
PXW_PORT=18008 NE_PORT=19100 GL_PORT=61208 SINK_PORT=18019
READY_LIMIT_S=30     # longest wait for a first HTTP 200
VENV="$ROOT/bench/.venv"
RESULTS_DIR="$ROOT/bench/results"
CLK_TCK=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/proxwatch-bench.XXXXXX)
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------- process tracking
PIDS=()
cleanup() {
  local rc=$? p i
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then log "scratch dir kept: $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn NAME CMD... : start CMD in the background, log to $TMP/NAME.log, set SPAWN_PID
spawn() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  SPAWN_PID=$!
  PIDS+=("$SPAWN_PID")
}

# stop PID: TERM, up to 5 s grace, then KILL; reaps it and drops it from PIDS
stop() {
  local p=$1 i keep=()
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for i in "${PIDS[@]}"; do [[ $i == "$p" ]] || keep+=("$i"); done
  PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- small helpers
calc() { awk -v CONVFMT=%.10g -v OFMT=%.10g "BEGIN { printf \"%s\", ($*) }"; }
ns2s() { printf '%s.%s' "${1:0:${#1}-9}" "${1: -9}"; } # 1700000000123456789 -> 1700000000.123456789
now_ns() { date +%s%N; }

# A sleep that forks nothing: read with a timeout on a FIFO nobody writes to.
mkfifo "$TMP/nap.fifo"
exec {NAPFD}<>"$TMP/nap.fifo"
nap() { read -r -t "$1" -u "$NAPFD" _ || true; }

# probe PORT PATH : sets PROBE_CODE to the HTTP status (000 if no answer). Pure bash
# (/dev/tcp), so a tight readiness loop costs no fork per try.
probe() {
  local fd line
  PROBE_CODE=000
  if exec {fd}<>"/dev/tcp/$HOST/$1"; then
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$2" "$HOST" >&"$fd" || true
    if read -r -t 2 -u "$fd" line; then line=${line#* }; PROBE_CODE=${line%% *}; fi
    exec {fd}>&-
  fi 2>/dev/null
}

# wait_200 PID PORT PATH : waits (≤ READY_LIMIT_S) for HTTP 200; sets READY_MS
# (ms since T0_NS, which the caller sets just before spawning) or READY_MS="".
wait_200() {
  local pid=$1 port=$2 path=$3 deadline
  deadline=$(($(now_ns) + READY_LIMIT_S * 1000000000))
  READY_MS=""
  while :; do
    probe "$port" "$path"
    if [[ $PROBE_CODE == 200 ]]; then
      READY_MS=$(calc "($(now_ns) - $T0_NS) / 1e6")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { READY_WHY="exited before answering 200"; return 1; }
    (($(now_ns) < deadline)) || { READY_WHY="no HTTP 200 within ${READY_LIMIT_S} s (last: $PROBE_CODE)"; return 1; }
    nap 0.002
  done
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cpu_ticks() { # utime+stime of PID (fields 14+15 of /proc/PID/stat; comm may hold spaces)
  local s f
  s=$(<"/proc/$1/stat"); s=${s##*) }
  read -ra f <<<"$s"
  echo $((f[11] + f[12]))
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
io_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/io"; }
db_bytes() { # total size of SQLite files under DIR
  find "$1" -maxdepth 2 -type f \( -name '*.db' -o -name '*.db-wal' -o -name '*.db-shm' \
    -o -name '*.sqlite' -o -name '*.sqlite-wal' -o -name '*.sqlite-shm' -o -name '*.sqlite3*' \) \
    -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# ---------------------------------------------------------------- formatting
f_ms() { awk -v v="$1" 'BEGIN { if (v < 1) f = "%.3f"; else if (v < 10) f = "%.2f"; else if (v < 100) f = "%.1f"; else f = "%.0f"; printf f " ms", v }'; }
f_rps() { awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } printf "%s%s req/s", s, o }'; }
f_mib() { awk -v v="$1" 'BEGIN { printf (v < 10 ? "%.2f MiB" : "%.1f MiB"), v / 1024 }'; } # from KiB
f_mib_m() { f_mib "$(calc "$1 * 1024")"; }                                                       # from MiB
f_cpu() { awk -v v="$1" 'BEGIN { printf (v < 1 ? "%.3f %%" : "%.2f %%"), v }'; }
f_bytes() { awk -v v="$1" 'BEGIN { if (v >= 1048576) printf "%.1f MiB", v / 1048576; else if (v >= 1024) printf "%.1f KiB", v / 1024; else printf "%.0f B", v }'; }
ratio() { # ratio A B -> "0.57×"
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) exit; r = a / b; printf (r >= 10 ? "%.0f×" : (r >= 1 ? "%.1f×" : (r >= 0.1 ? "%.2f×" : "%.2g×"))), r }'
}
is_num() { [[ ${1:-} =~ ^[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }

declare -A R      # raw numbers: R[prog.metric]
declare -A NA     # reason a program could not be measured: NA[prog]
declare -A NOTE   # per-cell note: NOTE[prog.metric]
PROGS=(pxw ne gl)
declare -A NAME=([pxw]=proxwatch [ne]=node_exporter [gl]=glances)
declare -A PORT=([pxw]=$PXW_PORT [ne]=$NE_PORT [gl]=$GL_PORT)
declare -A MAINPATH=([pxw]=$PXW_PATH [ne]=/metrics [gl]=$GL_PATH)
# Startup is timed to the first 200 of a public endpoint: proxwatch's API needs a login.
declare -A STARTPATH=([pxw]=/api/health/live [ne]=/metrics [gl]=$GL_PATH)
# Extra request headers per program (proxwatch: an API token, fetched once it runs).
declare -A AUTH=([pxw]="" [ne]="" [gl]="")

# ---------------------------------------------------------------- 0. tools
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v strace >/dev/null || need_apt+=(strace)
command -v curl >/dev/null || need_apt+=(curl)
command -v prometheus-node-exporter >/dev/null || need_apt+=(prometheus-node-exporter)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"; } >"$TMP/apt.log" 2>&1; then
    log "apt-get failed (see below); going on with what is there"; tail -5 "$TMP/apt.log" >&2 || true
  fi
  # Debian's package may start the service where an init system runs: stop it, we run our own.
  if command -v service >/dev/null && [[ -d /run/systemd/system ]]; then service prometheus-node-exporter stop >/dev/null 2>&1 || true; fi
fi
command -v curl >/dev/null || { log "curl is required"; exit 1; }
HAVE_WRK=1; command -v wrk >/dev/null || HAVE_WRK=0
HAVE_STRACE=1; command -v strace >/dev/null || HAVE_STRACE=0
command -v prometheus-node-exporter >/dev/null || NA[ne]="not installed (apt-get failed)"

GLANCES="$VENV/bin/glances"
if [[ ! -x $GLANCES ]]; then
  log "installing Glances into bench/.venv"
  {
    PY=python3
    if ! "$PY" -m venv "$VENV"; then
      apt-get install -y -qq --no-install-recommends python3-venv && PY=/usr/bin/python3 && "$PY" -m venv --clear "$VENV"
    fi &&
      "$VENV/bin/pip" install -q --disable-pip-version-check 'glances[web]'
  } >"$TMP/glances-install.log" 2>&1 || true
  [[ -x $GLANCES ]] || { tail -5 "$TMP/glances-install.log" >&2 || true; }
fi
if [[ ! -x $GLANCES ]]; then
  NA[gl]="could not be installed (pip)"
elif ! "$GLANCES" --version >/dev/null 2>&1; then
  NA[gl]="installed but does not run"
fi

# ---------------------------------------------------------------- 1. build
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
  # one cargo at a time on this 2-core machine: wait (bounded) for others to finish
  for ((i = 0; i < 360; i++)); do pgrep -x cargo >/dev/null 2>&1 || break; ((i % 12)) || log "waiting for another cargo to finish"; sleep 5; done
  log "cargo build --release"
  cargo build --release
  cargo build --release --example argon2_cost --example inventory_cost --example login_flood --example notify_load \
    --example monitor_load --example fleet_load
fi
# Password hashing cost with proxwatch's argon2id parameters (the access issue asks for 50-150 ms).
ARGON2_LINE="n/a"
if [[ -x target/release/examples/argon2_cost ]]; then ARGON2_LINE=$(target/release/examples/argon2_cost 2>&1 || true); fi
# Inventory poller cost at the default intervals (tool runs = spawns on a real host; CPU per step).
INVENTORY_LINE="n/a"
if [[ -x target/release/examples/inventory_cost ]]; then INVENTORY_LINE=$(target/release/examples/inventory_cost 2>&1 | tr '\n' ' ' || true); fi
# The notification engine: 10 000 events through routing and burst aggregation into three local webhook peers,
# one dead for the first half (examples/notify_load.rs).
NOTIFY_LINE="n/a"
if [[ -x target/release/examples/notify_load ]]; then NOTIFY_LINE=$(target/release/examples/notify_load 2>/dev/null | tail -1 || true); fi
# The service monitors' scheduler (issue 18): 200 HTTP monitors every 30 s against a local server, through the
# production loop (examples/monitor_load.rs): CPU (% of a core, the server's own share apart), RSS added (and that
# of a runner holding its 90 heartbeats and an open bucket per monitor), the WAL written a day by the 10-minute bucket
# writes, the database's steady state. It runs here, before the idle instances start, on a quiet machine.
MONITOR_LINE="n/a"
MONITOR_WARMUP_S=${BENCH_MONITOR_WARMUP_S:-35}
MONITOR_MEASURE_S=${BENCH_MONITOR_S:-60}
MONITOR_ARGS=(--warmup-s "$MONITOR_WARMUP_S" --measure-s "$MONITOR_MEASURE_S")
[[ ${BENCH_MONITOR_DAY:-1} == 1 ]] || MONITOR_ARGS+=(--no-day)
if [[ -x target/release/examples/monitor_load ]]; then
  log "service monitors: ${MONITOR_WARMUP_S} s warm-up, ${MONITOR_MEASURE_S} s window"
  MONITOR_LINE=$(timeout $((MONITOR_WARMUP_S + MONITOR_MEASURE_S + 180)) target/release/examples/monitor_load "${MONITOR_ARGS[@]}" \
    2>"$TMP/monitor_load.err" | tail -1 || true)
  if [[ $MONITOR_LINE != monitors:* ]]; then
    MONITOR_LINE="n/a (monitor_load failed: $(grep -m1 '^Error' "$TMP/monitor_load.err" || tail -1 "$TMP/monitor_load.err"))"
  fi
fi
# Its budgets: the monitors' CPU (the local server's share apart) and the RSS they add, over the window and for a
# runner holding its steady-state checks (90 heartbeats and a bucket per monitor; not there with BENCH_MONITOR_DAY=0).
MON_CPU=$(sed -n 's/^monitors: .*: cpu \([0-9.]*\) % of a core.*/\1/p' <<<"$MONITOR_LINE")
MON_RSS=$(sed -n 's/^monitors: .*, rss +\([0-9.]*\) MiB.*/\1/p' <<<"$MONITOR_LINE")
MON_RSS_FULL=$(sed -n 's/^monitors: .*; a runner holding 90 beats + a bucket per monitor +\([0-9.]*\) MiB.*/\1/p' <<<"$MONITOR_LINE")
# The fleet and the Docker agents (issue 19): 32 peers (one local server answering each its summary) polled every
# 10 s by the production poller, and one Docker report (the recorded 54 KB one) taken in every second through
# `Agents::ingest`, a container's state changing every 60th (examples/fleet_load.rs): CPU (% of a core, the server's
# own share apart), RSS added, polls, reports, the WAL written. Also before the idle instances start.
FLEET_LINE="n/a"
FLEET_WARMUP_S=${BENCH_FLEET_WARMUP_S:-25}
FLEET_MEASURE_S=${BENCH_FLEET_S:-60}
FLEET_ARGS=(--warmup-s "$FLEET_WARMUP_S" --measure-s "$FLEET_MEASURE_S")
[[ ${BENCH_FLEET_TLS:-0} != 1 ]] || FLEET_ARGS+=(--tls)
if [[ -x target/release/examples/fleet_load ]]; then
  log "fleet + Docker agents: ${FLEET_WARMUP_S} s warm-up, ${FLEET_MEASURE_S} s window"
  FLEET_LINE=$(timeout $((FLEET_WARMUP_S + FLEET_MEASURE_S + 120)) target/release/examples/fleet_load "${FLEET_ARGS[@]}" \
    2>"$TMP/fleet_load.err" | tail -1 || true)
  if [[ $FLEET_LINE != fleet:* ]]; then
    FLEET_LINE="n/a (fleet_load failed: $(grep -m1 '^Error' "$TMP/fleet_load.err" || tail -1 "$TMP/fleet_load.err"))"
  fi
fi
# Its budgets: the CPU of the poller and the ingest together (the local server's share apart), the RSS they add.
FLEET_CPU=$(sed -n 's/^fleet: .*: cpu \([0-9.]*\) % of a core.*/\1/p' <<<"$FLEET_LINE")
FLEET_RSS=$(sed -n 's/^fleet: .*, rss +\([0-9.]*\) MiB.*/\1/p' <<<"$FLEET_LINE")
if [[ ! -x $PXW_BIN ]]; then NA[pxw]="binary $PXW_BIN missing"; fi

# The programs, as argv builders (proxwatch takes a data dir).
# --bind keeps it on loopback whatever the config says (demo defaults to 127.0.0.1 anyway).
cmd_pxw() { CMD=("$PXW_BIN" demo --bind "$HOST" --port "$PXW_PORT" --data-dir "$1"); }
cmd_ne() { CMD=(prometheus-node-exporter "--web.listen-address=$HOST:$NE_PORT"); }
cmd_gl() { CMD=("$GLANCES" -w --disable-webui -B "$HOST" -p "$GL_PORT"); }

for p in "${PROGS[@]}"; do
  [[ -z ${NA[$p]:-} ]] || continue
  probe "${PORT[$p]}" /
  if [[ $PROBE_CODE != 000 ]]; then NA[$p]="port ${PORT[$p]} already in use"; fi
done

# ---------------------------------------------------------------- 2a. startup (each alone)
mkdir -p "$TMP/pxw-startup"
for p in "${PROGS[@]}"; do
  [[ -z ${NA[$p]:-} ]] || continue
  runs=()
  for ((run = 1; run <= STARTUP_RUNS; run++)); do
    # proxwatch: run 1 on an empty data dir (first boot), later runs reuse it (restart)
    cmd_"$p" "$TMP/pxw-startup"
    T0_NS=$(now_ns)
    spawn "$p-startup-$run" "${CMD[@]}"
    if wait_200 "$SPAWN_PID" "${PORT[$p]}" "${STARTPATH[$p]}"; then
      runs+=("$READY_MS")
    else
      NOTE[$p.startup]="run $run: $READY_WHY"
    fi
    stop "$SPAWN_PID"
  done
  if ((${#runs[@]})); then
    R[$p.startup]=$(median "${runs[@]}")
    R[$p.startup_runs]=$(printf '%.0f/' "${runs[@]}"); R[$p.startup_runs]=${R[$p.startup_runs]%/}
    log "${NAME[$p]}: first 200 on ${STARTPATH[$p]} after ${R[$p.startup_runs]} ms"
  else
    log "${NAME[$p]}: startup failed: ${NOTE[$p.startup]}"; tail -5 "$TMP/$p-startup-1.log" >&2 || true
    NA[$p]="${NOTE[$p.startup]}"
  fi
done

# ---------------------------------------------------------------- 2b. idle, all side by side
# proxwatch runs under `strace -f --seccomp-bpf` from its start: the BPF filter stops it only
# on clone/fork/execve, so the CPU figure of the same window is not inflated (attaching with
# -p would stop it on every syscall). Without seccomp-bpf we attach after the CPU window.
PXW_DATA="$TMP/pxw"
mkdir -p "$PXW_DATA"
STRACE_MODE=none
if [[ -z ${NA[pxw]:-} && $HAVE_STRACE == 1 ]]; then
  if strace -f --seccomp-bpf -qq -e trace=execve -o /dev/null true >/dev/null 2>&1; then STRACE_MODE=launch; else STRACE_MODE=attach; fi
  STRACE_MODE=${BENCH_STRACE_MODE:-$STRACE_MODE}
fi
STRACE_OUT="$TMP/strace.txt"
declare -A IDLEPID
for p in "${PROGS[@]}"; do
  [[ -z ${NA[$p]:-} ]] || continue
  cmd_"$p" "$PXW_DATA"
  if [[ $p == pxw && $STRACE_MODE == launch ]]; then
    T0_NS=$(now_ns)
    spawn pxw-idle strace -f --seccomp-bpf -qq -ttt -e trace=execve,clone,clone3,fork,vfork -e signal=none -o "$STRACE_OUT" -- "${CMD[@]}"
    STRACE_PID=$SPAWN_PID
    # strace's child that has become proxwatch (by its executable): strace may first fork a
    # short-lived child of its own to probe seccomp support, and taking that one made the bench
    # report "exited before answering 200" for a proxwatch that was running (and left it behind).
    child="" i=0 pxw_exe=$(readlink -f "$PXW_BIN")
    while [[ -z $child ]] && ((i++ < 500)); do
      for c in $(cat "/proc/$STRACE_PID/task/$STRACE_PID/children" 2>/dev/null || true); do
        [[ $(readlink "/proc/$c/exe" 2>/dev/null) == "$pxw_exe" ]] && { child=$c; break; }
      done
      [[ -n $child ]] || nap 0.01
    done
    [[ -n $child ]] || { NA[pxw]="did not start under strace"; continue; }
    PIDS+=("$child")
    IDLEPID[pxw]=$child
  else
    T0_NS=$(now_ns)
    spawn "$p-idle" "${CMD[@]}"
    IDLEPID[$p]=$SPAWN_PID
  fi
  if ! wait_200 "${IDLEPID[$p]}" "${PORT[$p]}" "${STARTPATH[$p]}"; then
    NA[$p]="idle instance: $READY_WHY"; continue
  fi
done

# The RSS budget holds "with notifications configured" (issue 13): the idle proxwatch gets three
# webhook channels to a loopback sink, and each sends one test message before the window, so the
# HTTP client and its code are part of what is measured.
pxw_notify_setup() {
  local base="http://$HOST:$PXW_PORT" jar="$TMP/pxw-notify-cookies" csrf id ok=0 n
  spawn notify-sink python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()' "$HOST" "$SINK_PORT"
  csrf=$(curl -s --max-time 10 -c "$jar" -H 'content-type: application/json' \
    -d '{"username":"demo","password":"demo"}' "$base/api/auth/login" | sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
  [[ -n $csrf ]] || { NOTE[pxw.rss]="could not log in to configure notifications"; return 0; }
  for n in 1 2 3; do
    id=$(curl -s --max-time 10 -b "$jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
      -d "{\"name\":\"bench$n\",\"config\":{\"kind\":\"webhook\",\"url\":\"http://$HOST:$SINK_PORT/\",\"secret\":\"bench-$n\"}}" \
      "$base/api/notifications/channels" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
    [[ -n $id ]] || continue
    # The sink may still be starting: a failed test is retried a few times (bounded).
    for _ in 1 2 3 4 5; do
      if curl -s --max-time 30 -b "$jar" -H "x-csrf-token: $csrf" -X POST \
        "$base/api/notifications/channels/$id/test" | grep -q '"ok":true'; then ok=$((ok + 1)); break; fi
      nap 0.2
    done
  done
  R[pxw.notify]="$ok of 3 channels sent their test"
  ((ok == 3)) || NOTE[pxw.rss]="only $ok of 3 notification channels sent their test message"
  log "notifications configured: ${R[pxw.notify]}"
  # The window measures the idle state, not the start-up burst: the first health cycle's findings
  # and the bench's own login notice (taken on the engine's once-a-minute wake) are delivered to the
  # new channels first. Polled through the history API with one-row pages (a large page would
  # itself grow the heap being measured), bounded at 150 s.
  local settled=0 t0=$SECONDS st busy
  q() { curl -s --max-time 10 -b "$jar" "$base/api/notifications/history?limit=1&$1"; }
  while ((SECONDS - t0 < 150)); do
    if q event=security.new_ip_login | grep -q '"rows":\[{'; then
      busy=0
      for st in pending sending retrying; do
        q "status=$st" | grep -q '"rows":\[\]' || busy=1
      done
      ((busy)) || { settled=1; break; }
    fi
    nap 1
  done
  if ((settled)); then
    log "notifications settled after $((SECONDS - t0)) s (start-up findings and the login notice delivered)"
  else
    NOTE[pxw.rss]="the start-up notifications had not settled after 150 s; the window includes them"
  fi
}
[[ -n ${NA[pxw]:-} ]] || pxw_notify_setup

log "idle window: ${IDLE_S} s"
declare -A T0
win0_ns=$(now_ns)
for p in "${PROGS[@]}"; do
  [[ -z ${NA[$p]:-} ]] || continue
  T0[$p]=$(cpu_ticks "${IDLEPID[$p]}")
done
W0=$(io_field "${IDLEPID[pxw]:-self}" wchar 2>/dev/null || echo 0)
WB0=$(io_field "${IDLEPID[pxw]:-self}" write_bytes 2>/dev/null || echo 0)
DB0=$(db_bytes "$PXW_DATA")
LOG0=$(stat -c %s "$TMP/pxw-idle.log" 2>/dev/null || echo 0)
sleep "$IDLE_S"
win1_ns=$(now_ns)
win_s=$(calc "($win1_ns - $win0_ns) / 1e9")
for p in "${PROGS[@]}"; do
  [[ -z ${NA[$p]:-} ]] || continue
  pid=${IDLEPID[$p]}
  if ! kill -0 "$pid" 2>/dev/null; then NA[$p]="exited during the idle window"; continue; fi
  t1=$(cpu_ticks "$pid")
  R[$p.cpu]=$(calc "($t1 - ${T0[$p]}) / $CLK_TCK / $win_s * 100")
  R[$p.rss]=$(rss_kib "$pid")
  kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null | wc -w)
  ((kids == 0)) || NOTE[$p.rss]="main process only; it has $kids child process(es)"
done
if [[ -z ${NA[pxw]:-} ]]; then
  pid=${IDLEPID[pxw]}
  w1=$(io_field "$pid" wchar); wb1=$(io_field "$pid" write_bytes); db1=$(db_bytes "$PXW_DATA")
  log1=$(stat -c %s "$TMP/pxw-idle.log" 2>/dev/null || echo 0)
  per_h=$(calc "3600 / $win_s")
  R[pxw.wchar_h]=$(calc "($w1 - $W0) * $per_h")
  R[pxw.wbytes_h]=$(calc "($wb1 - $WB0) * $per_h")
  R[pxw.db_h]=$(calc "($db1 - $DB0) * $per_h")
  R[pxw.log_h]=$(calc "($log1 - $LOG0) * $per_h")
  R[pxw.db_size]=$db1

  if [[ $STRACE_MODE == attach ]]; then
    log "strace -p attached to proxwatch for ${IDLE_S} s, after the CPU window"
    win0_ns=$(now_ns)
    timeout -s INT "$((IDLE_S + 2))" strace -f -qq -ttt -e trace=execve,clone,clone3,fork,vfork -e signal=none -o "$STRACE_OUT" -p "$pid" >/dev/null 2>&1 &
    spid=$!; PIDS+=("$spid")
    sleep "$IDLE_S"; win1_ns=$(now_ns)
    stop "$spid"
  fi
  if [[ $STRACE_MODE != none && -f $STRACE_OUT ]]; then
    # Count, inside the window, process creations (clone/fork without CLONE_THREAD) and execs.
    # A call interrupted by another thread's line shows as "<unfinished ...>" then
    # "<... execve resumed> ) = 0": an execve counts when its result (= 0) is seen.
    read -r spawns execs < <(awk -v a="$(ns2s "$win0_ns")" -v b="$(ns2s "$win1_ns")" '
      $2 + 0 < a + 0 || $2 + 0 > b + 0 { next }
      / (clone3?|v?fork)\(/ && !/CLONE_THREAD/ { s++ }
      / execve\(/ && /unfinished \.\.\.>$/ { pend[$1] = 1; next }
      / execve\(/ && / = 0$/ { e++ }
      /<\.\.\. execve resumed>/ { if (pend[$1] && / = 0$/) e++; delete pend[$1] }
      END { print s + 0, e + 0 }' "$STRACE_OUT")
    sw=$(calc "($win1_ns - $win0_ns) / 1e9")
    R[pxw.spawns_min]=$(calc "$spawns / $sw * 60")
    R[pxw.execs_min]=$(calc "$execs / $sw * 60")
    R[pxw.spawns]=$spawns
  fi
fi

# ---------------------------------------------------------------- 3. load, one target at a time
# run_wrk KEY URL THREADS CONNS SECONDS -> R[KEY.rps|p50|p99], NOTE[KEY]
# A read-scope API token for proxwatch: log in as the demo user, then create the token (CSRF header).
pxw_token() {
  local base="http://$HOST:$PXW_PORT" jar="$TMP/pxw-cookies" csrf
  csrf=$(curl -s --max-time 10 -c "$jar" -H 'content-type: application/json' \
    -d '{"username":"demo","password":"demo"}' "$base/api/auth/login" | sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
  [[ -n $csrf ]] || return 0
  curl -s --max-time 10 -b "$jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
    -d '{"name":"bench","scope":"read","password":"demo"}' "$base/api/auth/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

run_wrk() {
  local key=$1 url=$2 t=$3 c=$4 d=$5 out="$TMP/wrk-${1//./-}.txt" code size hdr=${6:-}
  local -a H=()
  [[ -z $hdr ]] || H=(-H "$hdr")
  read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --max-time 5 "${H[@]}" "$url" 2>/dev/null || echo "000 0")
  R[$key.size]=$size
  if [[ $code != 200 ]]; then NOTE[$key]="HTTP ${code:-000}"; return 0; fi
  if ((HAVE_WRK == 0)); then NOTE[$key]="wrk missing"; return 0; fi
  log "wrk -t$t -c$c -d${d}s $url"
  if ! timeout "$((d + 30))" wrk -t"$t" -c"$c" -d"${d}s" --latency "${H[@]}" "$url" >"$out" 2>&1; then
    NOTE[$key]="wrk failed"; tail -3 "$out" >&2 || true; return 0
  fi
  read -r R[$key.p50] R[$key.p99] R[$key.rps] R[$key.bad] < <(awk '
    function ms(s) { if (s ~ /us$/) return s / 1000; if (s ~ /ms$/) return s + 0; if (s ~ /m$/) return s * 60000; if (s ~ /s$/) return s * 1000; return s }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { bad += $NF }
    /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
    END { print p50 + 0, p99 + 0, rps + 0, bad + 0 }' "$out")
  if [[ ${R[$key.bad]} != 0 ]]; then NOTE[$key]="${R[$key.bad]} non-2xx/socket errors"; fi
}
if [[ -z ${NA[pxw]:-} ]]; then
  tok=$(pxw_token)
  if [[ -n $tok ]]; then AUTH[pxw]="Authorization: Bearer $tok"; else NOTE[pxw.c16]="could not get an API token"; fi
fi
for p in "${PROGS[@]}"; do
  [[ -z ${NA[$p]:-} ]] || continue
  url="http://$HOST:${PORT[$p]}${MAINPATH[$p]}"
  run_wrk "$p.c16" "$url" 2 16 "$WRK_S" "${AUTH[$p]}"
  run_wrk "$p.c1" "$url" 1 1 "$SEQ_S" "${AUTH[$p]}"
done
if [[ -z ${NA[pxw]:-} ]]; then
  MH=()
  [[ -z ${AUTH[pxw]} ]] || MH=(-H "${AUTH[pxw]}")
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${MH[@]}" "http://$HOST:$PXW_PORT/metrics" 2>/dev/null || true)
  # Only a Prometheus exposition counts (an HTML page answering 200 is not an endpoint).
  # (Read whole, then matched: `curl | grep -q` fails under pipefail when grep stops reading early.)
  body=$(curl -s --max-time 5 "${MH[@]}" "http://$HOST:$PXW_PORT/metrics" 2>/dev/null || true)
  if [[ $code == 200 ]] && grep -q '^# TYPE ' <<<"$body"; then
    run_wrk pxw.m16 "http://$HOST:$PXW_PORT/metrics" 2 16 "$WRK_S" "${AUTH[pxw]}"
    R[pxw.m_bytes]=${#body}
    R[pxw.m_gz]=$(curl -s --max-time 5 "${MH[@]}" -H 'accept-encoding: gzip' "http://$HOST:$PXW_PORT/metrics" | wc -c)
    R[pxw.m_series]=$(grep -c -v '^#' <<<"$body")
    R[pxw.m_families]=$(grep -c '^# TYPE ' <<<"$body")
  else
    NOTE[pxw.m16]="HTTP ${code:-000}, no exposition"; log "proxwatch /metrics: HTTP ${code:-000}, skipped"
  fi
  # The guests list (served from the inventory snapshot).
  run_wrk pxw.vms "http://$HOST:$PXW_PORT/api/vms" 2 16 "$WRK_S" "${AUTH[pxw]}"
  # The Overview's one summary read (snapshots plus the newest health events from SQLite).
  run_wrk pxw.ov "http://$HOST:$PXW_PORT/api/overview" 2 16 "$WRK_S" "${AUTH[pxw]}"
fi

# ---------------------------------------------------------------- 3b. login flood
# A fresh demo of its own (the idle instances keep idling): examples/login_flood.rs floods
# POST /api/auth/login with wrong passwords from 32 clients, each request a new connection from
# another loopback source address (127.1.0.1 … 127.1.15.254), half of them for the demo user's name,
# while the demo user logs in every 250 ms from 127.0.0.1 (where it logged in once before the
# flood). The example samples the server's VmRSS every 50 ms and reads VmHWM at the end; it prints
# one JSON line, read here with bash patterns (flat numbers and one flat object).
FLOOD_S=${BENCH_FLOOD_S:-20}
FLOOD_PORT=18010 FLOOD_CLIENTS=32
FLOOD_BIN=target/release/examples/login_flood
FLOOD_LINE="n/a"
if [[ -n ${NA[pxw]:-} ]]; then
  NOTE[pxw.flood]="proxwatch not measured"
elif [[ ! -x $FLOOD_BIN ]]; then
  NOTE[pxw.flood]="$FLOOD_BIN missing (build: cargo build --release --example login_flood)"
else
  mkdir -p "$TMP/flood-data"
  T0_NS=$(now_ns)
  spawn pxw-flood "$PXW_BIN" demo --bind "$HOST" --port "$FLOOD_PORT" --data-dir "$TMP/flood-data"
  fpid=$SPAWN_PID
  if ! wait_200 "$fpid" "$FLOOD_PORT" "${STARTPATH[pxw]}"; then
    NOTE[pxw.flood]="flood demo: $READY_WHY"
  else
    log "login flood: ${FLOOD_S} s, $FLOOD_CLIENTS clients from rotating loopback addresses"
    if out=$(timeout $((FLOOD_S + 60)) "$FLOOD_BIN" "$HOST:$FLOOD_PORT" "$fpid" "$FLOOD_S" "$FLOOD_CLIENTS" 2>"$TMP/flood.err"); then
      for k in legit_n legit_ok legit_p50_ms legit_p99_ms legit_max_ms flood_requests flood_s rss_idle_mib rss_peak_mib hwm_mib; do
        if [[ $out =~ \"$k\":([-0-9.eE+]+) ]]; then R[pxw.flood.$k]=${BASH_REMATCH[1]}; fi # null: not measured
      done
      # {"401":12,"429":3,...} -> "401 12, 429 3, ..."
      fb="?" lb="?"
      if [[ $out =~ \"flood_by_status\":\{([^\}]*)\} ]]; then fb=${BASH_REMATCH[1]//\"/}; fb=${fb//:/ }; fb=${fb//,/, }; fi
      if [[ $out =~ \"legit_by_status\":\{([^\}]*)\} ]]; then lb=${BASH_REMATCH[1]//\"/}; lb=${lb//:/ }; lb=${lb//,/, }; fi
      [[ -n $lb ]] || lb="none"
      FLOOD_LINE="${R[pxw.flood.flood_requests]:-?} attempts from $FLOOD_CLIENTS clients in ${R[pxw.flood.flood_s]:-?} s, answered: $fb (401 = password checked and wrong, 429 = limited, 503 = busy, conn_error = no answer within 10 s); the demo user's ${R[pxw.flood.legit_n]:-?} logins, by answer: $lb."
      log "login flood: $(tail -3 "$TMP/flood.err" | tr '\n' ' ')"
    else
      NOTE[pxw.flood]="login_flood failed: $(tail -1 "$TMP/flood.err")"
    fi
  fi
  stop "$fpid"
fi

# ---------------------------------------------------------------- 4. the table
# cell PROG KEY FORMATTER [better=low|high] : value, or n/a (reason), plus "(pxw N×)" for peers
cell() {
  local p=$1 k=$2 fmt=$3 v out r
  if [[ -n ${NA[$p]:-} ]]; then printf 'n/a (%s)' "${NA[$p]}"; return; fi
  v=${R[$p.$k]:-}
  if ! is_num "$v"; then printf 'n/a (%s)' "${NOTE[$p.${k%.*}]:-${NOTE[$p.$k]:-not measured}}"; return; fi
  out=$($fmt "$v")
  if [[ $p != pxw ]] && is_num "${R[pxw.$k]:-}" && [[ -z ${NA[pxw]:-} ]]; then
    r=$(ratio "${R[pxw.$k]}" "$v")
    [[ -z $r ]] || out+=" (pxw $r)"
  fi
  printf '%s' "$out"
}
# verdict VALUE OP LIMIT -> ✅ / ❌ (nothing if not measured)
verdict() { is_num "${1:-}" || return 0; if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then printf '✅ '; else printf '❌ '; fi; }
ref() { local r; is_num "${1:-}" || return 0; r=$(ratio "$1" "$2"); [[ -z $r ]] || printf ' (pxw %s)' "$r"; }

pv() { printf '%s' "${R[pxw.$1]:-}"; }
ep() { printf '`%s`' "${MAINPATH[$1]}"; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }

pxw_ver=$("$PXW_BIN" --version 2>/dev/null | head -1 || true); pxw_ver=${pxw_ver#proxwatch }
ne_ver=$(prometheus-node-exporter --version 2>&1 | head -1 | awk '{print $3}' || true)
gl_ver=$("$GLANCES" --version 2>/dev/null | awk -F'\t' '/^Glances version/ {print $2}' || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")

metrics_ne() { # node_exporter's /metrics is its main endpoint: reuse that run, compare to ours
  local v=${R[ne.c16.$1]:-}
  if [[ -n ${NA[ne]:-} ]]; then printf 'n/a (%s)' "${NA[ne]}"; return; fi
  if ! is_num "$v"; then printf 'n/a (%s)' "${NOTE[ne.c16]:-not measured}"; return; fi
  printf '%s' "$($2 "$v")"
  if is_num "${R[pxw.m16.$1]:-}"; then printf ' (pxw %s)' "$(ratio "${R[pxw.m16.$1]}" "$v")"; fi
  printf ' (same run as above)'
}

TABLE=$(
  echo "| metric | proxwatch | node_exporter | glances | target (DESIGN §6) · references |"
  echo "|---|---|---|---|---|"
  row "endpoint under load" "$(ep pxw)" "$(ep ne)" "$(ep gl) (closest to a system overview)" "ProxMenux \`/api/system\`"
  row "response size of that endpoint" "$(cell pxw c16.size f_bytes)" "$(cell ne c16.size f_bytes)" "$(cell gl c16.size f_bytes)" "—"
  row "startup → first HTTP 200 (median of $STARTUP_RUNS)" \
    "$(cell pxw startup f_ms)${R[pxw.startup_runs]:+ · runs ${R[pxw.startup_runs]} ms}" \
    "$(cell ne startup f_ms)" "$(cell gl startup f_ms)" "$(verdict "$(pv startup)" '<' 50)< 50 ms"
  row "idle RSS after ${IDLE_S} s (proxwatch: 3 notification channels configured, one send each)" "$(cell pxw rss f_mib)" "$(cell ne rss f_mib)" "$(cell gl rss f_mib)" \
    "$(verdict "$(pv rss)" '<=' 16384)≤ 16 MiB · ProxMenux 105 MiB$(ref "$(pv rss)" 107520) · floor 2.3 MiB$(ref "$(pv rss)" 2355)"
  row "idle CPU, % of one core over ${IDLE_S} s" "$(cell pxw cpu f_cpu)" "$(cell ne cpu f_cpu)" "$(cell gl cpu f_cpu)" \
    "$(verdict "$(pv cpu)" '<=' 0.3)≤ 0.3 % · ProxMenux 3.7 %$(ref "$(pv cpu)" 3.7)"
  # Tool spawns a real host would see, and the host CPU they add (examples/inventory_cost.rs: every
  # collector over a simulated day at its default interval; each program's cost measured here where
  # installed, else the stated estimate).
  tools_min=$(sed -n 's/.*steady state[^:]*: \([0-9.]*\) tool runs\/min.*/\1/p' <<<"$INVENTORY_LINE")
  pvesh_min=$(sed -n 's/.*pvesh \([0-9.]*\)\/min.*/\1/p' <<<"$INVENTORY_LINE")
  tools_pct=$(sed -n 's/.*projected host CPU: tools \([0-9.]*\) %.*/\1/p' <<<"$INVENTORY_LINE")
  row "tool spawns on a real host at steady state (all collectors, default intervals): total / pvesh" \
    "${tools_min:-n/a}/min / ${pvesh_min:-n/a}/min" "—" "—" \
    "$(verdict "$tools_min" '<' 3)< 3/min · $(verdict "$pvesh_min" '==' 0)pvesh 0/min"
  proj=""
  if is_num "$(pv cpu)" && is_num "$tools_pct"; then proj=$(calc "$(pv cpu) + $tools_pct"); fi
  row "projected host CPU at idle: proxwatch + the tools it runs" \
    "${proj:+$(f_cpu "$proj") ($(f_cpu "$(pv cpu)") + tools $(f_cpu "$tools_pct"))}" "—" "—" \
    "$(verdict "$proj" '<' 0.3)< 0.3 %"
  row "main endpoint, 16 conns (wrk -t2 -c16 -d${WRK_S}s): throughput" "$(cell pxw c16.rps f_rps)" "$(cell ne c16.rps f_rps)" "$(cell gl c16.rps f_rps)" \
    "$(verdict "$(pv c16.rps)" '>=' 20000)≥ 20,000 req/s · ProxMenux 90 req/s$(ref "$(pv c16.rps)" 90) · floor ~32,000 req/s$(ref "$(pv c16.rps)" 32000)"
  row "main endpoint, 16 conns: p50" "$(cell pxw c16.p50 f_ms)" "$(cell ne c16.p50 f_ms)" "$(cell gl c16.p50 f_ms)" "—"
  row "main endpoint, 16 conns: p99" "$(cell pxw c16.p99 f_ms)" "$(cell ne c16.p99 f_ms)" "$(cell gl c16.p99 f_ms)" "$(verdict "$(pv c16.p99)" '<' 2)< 2 ms"
  row "main endpoint, sequential (wrk -t1 -c1 -d${SEQ_S}s): p50" "$(cell pxw c1.p50 f_ms)" "$(cell ne c1.p50 f_ms)" "$(cell gl c1.p50 f_ms)" "—"
  row "main endpoint, sequential: p99" "$(cell pxw c1.p99 f_ms)" "$(cell ne c1.p99 f_ms)" "$(cell gl c1.p99 f_ms)" "—"
  row "main endpoint, sequential: throughput" "$(cell pxw c1.rps f_rps)" "$(cell ne c1.rps f_rps)" "$(cell gl c1.rps f_rps)" "—"
  row "\`/api/vms\` (guests), 16 conns: throughput / p99" "$(cell pxw vms.rps f_rps) / $(cell pxw vms.p99 f_ms)" "—" "—" "served from the inventory snapshot"
  row "\`/api/overview\` (the Overview's summary), 16 conns: throughput / p99" "$(cell pxw ov.rps f_rps) / $(cell pxw ov.p99 f_ms)" "—" "—" "read once per page open and per health cycle"
  row "\`/metrics\`, 16 conns: throughput" "$(cell pxw m16.rps f_rps)" "$(metrics_ne rps f_rps)" "— (no Prometheus endpoint)" \
    "$(verdict "$(pv m16.rps)" '>=' 10000)≥ 10,000 req/s · ProxMenux 14 req/s$(ref "$(pv m16.rps)" 14) · node_exporter (DESIGN) ~230 req/s"
  row "\`/metrics\`, 16 conns: p99" "$(cell pxw m16.p99 f_ms)" "$(metrics_ne p99 f_ms)" "—" "$(verdict "$(pv m16.p99)" '<' 5)< 5 ms · ProxMenux 110 ms each"
  if is_num "$(pv m_bytes)"; then
    row "\`/metrics\` size (demo)" "$(f_bytes "$(pv m_bytes)") ($(f_bytes "$(pv m_gz)") gzipped), $(pv m_series) series in $(pv m_families) families" "—" "—" "bounded: no per-process series"
  fi
  if [[ -n ${NA[pxw]:-} ]]; then sq="n/a (${NA[pxw]})"; sp=$sq; else
    if is_num "$(pv wchar_h)"; then
      sq="$(f_bytes "$(pv wchar_h)")/h = $(f_bytes "$(calc "$(pv wchar_h) * 24")")/day written (wchar; of which log output $(f_bytes "$(pv log_h)")/h) · DB files grew $(f_bytes "$(pv db_h)")/h (now $(f_bytes "$(pv db_size)")) · block-layer write_bytes $(f_bytes "$(pv wbytes_h)")/h"
    else sq="n/a"; fi
    if is_num "$(pv spawns_min)"; then
      sp="$(awk -v v="$(pv spawns_min)" 'BEGIN { printf "%.2f", v }')/min ($(pv spawns) in window; execve $(awk -v v="$(pv execs_min)" 'BEGIN { printf "%.2f", v }')/min; strace $STRACE_MODE)"
    else sp="n/a (strace unavailable)"; fi
  fi
  if is_num "$(pv flood.legit_n)"; then fok=" ($(pv flood.legit_ok) of $(pv flood.legit_n) ok)"; else fok=""; fi
  row "login flood ($FLOOD_CLIENTS clients, rotating addresses, ${FLOOD_S} s): legitimate login p50 / p99" \
    "$(cell pxw flood.legit_p50_ms f_ms) / $(cell pxw flood.legit_p99_ms f_ms)$fok" "—" "—" \
    "$(verdict "$(pv flood.legit_p99_ms)" '<' 1000)p99 < 1 s"
  row "login flood: server peak RSS (VmRSS sampled every 50 ms / VmHWM)" \
    "$(cell pxw flood.rss_peak_mib f_mib_m) / $(cell pxw flood.hwm_mib f_mib_m)$(is_num "$(pv flood.rss_idle_mib)" && printf ' (before the flood %s)' "$(f_mib_m "$(pv flood.rss_idle_mib)")")" "—" "—" \
    "$(verdict "$(awk -v a="$(pv flood.hwm_mib)" -v b="$(pv flood.rss_peak_mib)" 'BEGIN { if (a b != "") print (a + 0 > b + 0 ? a : b) }')" '<' 200)< 200 MiB (verdict on the larger of the two)"
  row "SQLite bytes written at idle (extrapolated from ${IDLE_S} s)" "$sq" "—" "—" "bounded; reported per day"
  row "process spawns at idle" "$sp" "—" "—" "$(verdict "$(pv spawns_min)" '==' 0)none beyond scheduled collectors (demo replays: expect 0)"
)

{
  echo "## proxwatch benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$TABLE"
  echo
  echo "\"(pxw N×)\" = proxwatch's figure divided by that column's figure. References are the figures of DESIGN.md §6 (ProxMenux Monitor, the bare-Rust floor), not measured here."
  echo
  echo "Conditions: $(nproc) cores, load average at end $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); proxwatch ${pxw_ver:-?} (commit $commit, \`demo\` on the embedded scenario, data dir on $(df -T "$TMP" | awk 'NR==2 {print $2}')); node_exporter ${ne_ver:-?} (default collectors); Glances ${gl_ver:-?} (\`-w --disable-webui\`, default 2 s refresh); wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}' || true). Each program runs as root on 127.0.0.1; all three idle side by side during the idle window and stay up while each is loaded in turn."
  echo
  echo "Password hashing: $ARGON2_LINE"
  echo
  echo "Collectors' tool runs (examples/inventory_cost.rs): $INVENTORY_LINE"
  echo
  echo "Login flood: $FLOOD_LINE"
  echo
  echo "Notification engine (10 000 events, 3 channels, 1 dead for the first half): $NOTIFY_LINE"
  echo
  echo "Service monitors (examples/monitor_load.rs, ${MONITOR_MEASURE_S} s window): $(verdict "$MON_CPU" '<' 0.5)CPU < 0.5 % of a core · $(verdict "$MON_RSS" '<' 4)RSS < 4 MiB${MON_RSS_FULL:+ · $(verdict "$MON_RSS_FULL" '<' 4)RSS with 90 beats + a bucket held < 4 MiB} · $MONITOR_LINE"
  echo
  echo "Fleet polling + Docker ingest (examples/fleet_load.rs, ${FLEET_MEASURE_S} s window): $(verdict "$FLEET_CPU" '<' 0.3)CPU < 0.3 % of a core · $(verdict "$FLEET_RSS" '<' 3)RSS < 3 MiB · $FLEET_LINE"
  for k in "${!NOTE[@]}"; do echo "- note ${k}: ${NOTE[$k]}"; done | sort
} >"$TMP/latest.md"

mkdir -p "$RESULTS_DIR"
cp "$TMP/latest.md" "$RESULTS_DIR/latest.md"
cat "$TMP/latest.md"
log "written to bench/results/latest.md"
