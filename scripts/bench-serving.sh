#!/usr/bin/env bash
# Serving load measurements of one model, for tandem serve and (optionally) llama-server,
# with the same settings, one server at a time:
#
#   decode-heavy:  64-token prompts, 256-token answers, ignore_eos, c = 1, 4, 8
#   prefill-heavy: 512-token prompts, 128-token answers, ignore_eos, c = 1, 4
#
# Every level runs one uncounted warm-up request per client, then REQUESTS measured
# requests. Prompts are sent as token ids (/v1/completions), exactly N tokens as the
# model file's own tokenizer encodes them, so both servers see the same prompt lengths.
#
# Usage: scripts/bench-serving.sh MODEL.gguf [OUT_DIR]
# Environment (defaults in brackets):
#   TANDEM          tandem binary, used for `serve` and `bench`   [build/tandem]
#   LLAMA_SERVER    llama-server binary; when set, it is measured after tandem
#   SERVERS         which servers to run                         [tandem, plus llama if set]
#                   tandem | llama | tandem-split | llama-rpc; the last two split the
#                   layers over two local processes: two `tandem node`s behind
#                   `tandem serve --join`, or two ggml-rpc-servers behind llama-server
#   SPLIT           layers per stage of tandem-split and llama-rpc, e.g. 16,8
#                   [tandem plan's placement over the two nodes, written to
#                   OUT_DIR/split; llama-rpc reads that file when tandem-split ran
#                   first into the same OUT_DIR, else divides the layers in half]
#   RPC_SERVER      ggml-rpc-server binary for llama-rpc   [next to LLAMA_SERVER]
#   WHOLE_CHARACTERS 1: bias away tokens that are not whole UTF-8 characters (tandem
#                   bench --whole-characters), without which llama-server fails the
#                   requests of random-weight models                              [1]
#   THREADS         compute threads of each server                [2]
#   PARALLEL        sequences decoded at once                     [8]
#   CTX             positions per sequence                        [1024]
#   REQUESTS        measured requests per level                   [32]
#   WARMUP          warm-up requests per client                   [1]
#   DECODE_LEVELS   concurrency levels of the decode-heavy load   [1,4,8]
#   PREFILL_LEVELS  concurrency levels of the prefill-heavy load  [1,4]
#   LOADS           which loads to run                            [decode prefill]
#   STEP_TOKENS     tandem serve --step-tokens (tokens per step)  [the server's default]
#   PORT            port the servers listen on                    [8090]
#   HEALTH_TIMEOUT  seconds to wait for /health after start       [600]
#   BANDWIDTH       1: print the machine's memory read rate (tandem doctor's test, under
#                   a second) just before and just after each load, with the server
#                   idle: where it drifts (shared hosts switch between memory states),
#                   levels compared with each other should have seen the same rate [1]
#
# Writes OUT_DIR/<server>-<load>.json (every request and summary), .svg (plot), .txt (table)
# and <server>.log (the server's output). OUT_DIR defaults to bench-serving-<UTC time>.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 2
fi
MODEL=$1
OUT=${2:-bench-serving-$(date -u +%Y%m%d-%H%M%S)}
TANDEM=${TANDEM:-build/tandem}
THREADS=${THREADS:-2}
PARALLEL=${PARALLEL:-8}
CTX=${CTX:-1024}
REQUESTS=${REQUESTS:-32}
WARMUP=${WARMUP:-1}
DECODE_LEVELS=${DECODE_LEVELS:-1,4,8}
PREFILL_LEVELS=${PREFILL_LEVELS:-1,4}
LOADS=${LOADS:-decode prefill}
PORT=${PORT:-8090}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-600}
BANDWIDTH=${BANDWIDTH:-1}
WHOLE_CHARACTERS=${WHOLE_CHARACTERS:-1}
RPC_SERVER=${RPC_SERVER:-${LLAMA_SERVER:+$(dirname "$LLAMA_SERVER")/ggml-rpc-server}}
if [[ -z ${SERVERS:-} ]]; then
  SERVERS=tandem
  [[ -n ${LLAMA_SERVER:-} ]] && SERVERS="tandem llama"
fi

[[ -f $MODEL ]] || { echo "no model file $MODEL" >&2; exit 1; }
[[ -x $TANDEM ]] || { echo "no tandem binary at $TANDEM (set TANDEM)" >&2; exit 1; }
mkdir -p "$OUT"
URL=http://127.0.0.1:$PORT
SERVER_PID=
BENCH_PID=
HELPER_PIDS=()

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
  local pid
  for pid in "${HELPER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  HELPER_PIDS=()
}

# Waits until something accepts connections on 127.0.0.1:$1.
wait_port() {
  local waited=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    ((waited++ < 60)) || { echo "nothing listens on port $1 after 60 s" >&2; exit 1; }
    sleep 1
  done
}
stop_all() {
  [[ -n $BENCH_PID ]] && kill "$BENCH_PID" 2>/dev/null
  stop_server
}
# The load generator runs in the background and is waited for, so that a signal stops
# it and the server at once.
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

start_server() {
  local name=$1
  case $name in
    tandem)
      "$TANDEM" serve "$MODEL" --port "$PORT" --parallel "$PARALLEL" --ctx "$CTX" \
        -t "$THREADS" ${STEP_TOKENS:+--step-tokens "$STEP_TOKENS"} >"$OUT/$name.log" 2>&1 &
      ;;
    tandem-split)
      local secret=$OUT/cluster.secret split
      head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret"
      chmod 600 "$secret"
      local i join=()
      for i in 1 2; do
        "$TANDEM" node --listen "127.0.0.1:$((PORT + i))" --name "n$i" --secret-file "$secret" \
          --cache-dir "$OUT/node$i-cache" "${join[@]}" >"$OUT/$name-node$i.log" 2>&1 &
        HELPER_PIDS+=($!)
        wait_port $((PORT + i))
        join=(--join "127.0.0.1:$((PORT + 1))")
      done
      sleep 2  # membership: the second node joins through the first
      split=${SPLIT:-}
      if [[ -z $split ]]; then
        # The planner's placement (measured memory, speed and link), fixed with --split
        # so that llama-rpc can be given the same division.
        "$TANDEM" plan "$MODEL" --join "127.0.0.1:$((PORT + 1))" --secret-file "$secret" \
          --ctx "$CTX" --parallel "$PARALLEL" >"$OUT/$name-plan.txt" 2>&1
        split=$(sed -nE 's/.* layers +([0-9]+)-([0-9]+) .*/\1 \2/p' "$OUT/$name-plan.txt" |
          awk '{printf "%s%d", (NR > 1 ? "," : ""), $2 - $1 + 1}')
        [[ -n $split ]] || { echo "no plan; see $OUT/$name-plan.txt" >&2; exit 1; }
      fi
      echo "$split" >"$OUT/split"
      echo "tandem-split: layers per stage $split"
      "$TANDEM" serve "$MODEL" --port "$PORT" --parallel "$PARALLEL" --ctx "$CTX" \
        -t "$THREADS" ${STEP_TOKENS:+--step-tokens "$STEP_TOKENS"} \
        --join "127.0.0.1:$((PORT + 1))" --secret-file "$secret" --split "$split" \
        >"$OUT/$name.log" 2>&1 &
      ;;
    llama-rpc)
      [[ -x ${LLAMA_SERVER:-} && -x ${RPC_SERVER:-} ]] ||
        { echo "llama-rpc needs LLAMA_SERVER and RPC_SERVER" >&2; exit 1; }
      local i
      for i in 1 2; do
        "$RPC_SERVER" -H 127.0.0.1 -p $((PORT + i)) -t "$THREADS" >"$OUT/$name-rpc$i.log" 2>&1 &
        HELPER_PIDS+=($!)
        wait_port $((PORT + i))
      done
      # Every layer on the two RPC servers, divided as tandem-split's were.
      local split=${SPLIT:-}
      [[ -z $split && -f $OUT/split ]] && split=$(cat "$OUT/split")
      split=${split:-1,1}
      echo "llama-rpc: tensor split $split"
      "$LLAMA_SERVER" -m "$MODEL" --port "$PORT" -np "$PARALLEL" -c $((CTX * PARALLEL)) \
        -t "$THREADS" --cont-batching --rpc "127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))" \
        -ngl 999 --tensor-split "$split" >"$OUT/$name.log" 2>&1 &
      ;;
    llama)
      [[ -x ${LLAMA_SERVER:-} ]] || { echo "LLAMA_SERVER is not an executable" >&2; exit 1; }
      # llama-server's -c is the context of all slots together.
      "$LLAMA_SERVER" -m "$MODEL" --port "$PORT" -np "$PARALLEL" -c $((CTX * PARALLEL)) \
        -t "$THREADS" --cont-batching >"$OUT/$name.log" 2>&1 &
      ;;
    *)
      echo "unknown server '$name' (tandem or llama)" >&2
      exit 1
      ;;
  esac
  SERVER_PID=$!
  local waited=0
  # llama-server answers 503 on /health while it loads the model.
  until curl -sf -o /dev/null "$URL/health"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$name exited; see $OUT/$name.log" >&2
      tail -5 "$OUT/$name.log" >&2
      exit 1
    fi
    if ((waited >= HEALTH_TIMEOUT)); then
      echo "$name not healthy after ${HEALTH_TIMEOUT}s" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "$name ready after ${waited}s (pid $SERVER_PID)"
}

# The memory read rate now, as tandem doctor measures it.
memory_bandwidth() {
  ((BANDWIDTH == 1)) || return 0
  echo "memory bandwidth $1: $("$TANDEM" doctor 2>/dev/null |
    awk '/^memory bandwidth/ { print $4, $5, "at" }') $(date -u +%H:%M:%S) UTC"
}

run_load() {
  local name=$1 load=$2 prompt answer levels
  case $load in
    decode) prompt=64 answer=256 levels=$DECODE_LEVELS ;;
    prefill) prompt=512 answer=128 levels=$PREFILL_LEVELS ;;
    *) echo "unknown load '$load' (decode or prefill)" >&2; exit 1 ;;
  esac
  echo "== $name $load: prompt $prompt, answer $answer, c=$levels, $REQUESTS requests/level," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S) UTC"
  local whole=()
  [[ $WHOLE_CHARACTERS == 1 ]] && whole=(--whole-characters)
  memory_bandwidth before
  "$TANDEM" bench --url "$URL" --completions --tokenizer "$MODEL" \
    --prompt-tokens "$prompt" --max-tokens "$answer" -c "$levels" \
    --requests "$REQUESTS" --warmup "$WARMUP" "${whole[@]}" \
    --json "$OUT/$name-$load.json" --plot "$OUT/$name-$load.svg" >"$OUT/$name-$load.txt" &
  BENCH_PID=$!
  local status=0
  wait "$BENCH_PID" || status=$?
  BENCH_PID=
  memory_bandwidth after
  cat "$OUT/$name-$load.txt"
  if ((status != 0)); then
    echo "tandem bench failed ($status) on $name $load" >&2
    exit 1
  fi
}

for name in $SERVERS; do
  start_server "$name"
  for load in $LOADS; do run_load "$name" "$load"; done
  stop_server
done
echo "results in $OUT"
