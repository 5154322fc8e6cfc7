#!/bin/sh
# Redis' own CPU per message of the cluster stream, measured apart from
# Switchyard: redis-server on core 0 with the cluster peer's settings (AOF
# on, appendfsync everysec, no RDB), redis-benchmark on core 1 appending
# entries shaped like the bus' (origin, packet header, 64-byte payload;
# MAXLEN ~ 100000), and 0 to 8 readers (stream-readers.mjs, also on core 1)
# reading every entry as a node does. Redis' utime + stime, its reaped AOF
# rewrite children included, divided by the entries appended.
# Usage: sh bench/tools/redis-stream-limit.sh   (N=entries PIPELINE=depth READERS="0 1 2 4 8")
set -e
cd "$(dirname "$0")"
N=${N:-600000}
PIPELINE=${PIPELINE:-8}
READERS=${READERS:-0 1 2 4 8}
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
ORIGIN=aedes-0123456789abcdef
HEADER=$(head -c 25 /dev/urandom | od -An -tx1 | tr -d ' \n')
PAYLOAD=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cpu() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
REDIS=; READING=; DIR=
# Whatever stops the script, it leaves no Redis and no readers behind.
cleanup() {
  [ -n "$READING" ] && kill "$READING" 2>/dev/null
  [ -n "$REDIS" ] && kill "$REDIS" 2>/dev/null
  [ -n "$DIR" ] && rm -rf "$DIR"
  true
}
trap cleanup EXIT INT TERM
for R in $READERS; do
  DIR=$(mktemp -d)
  taskset -c 0 redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec --save '' --daemonize no --logfile '' --loglevel warning >/dev/null &
  REDIS=$!
  until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.1; done
  taskset -c 1 node stream-readers.mjs "$PORT" "$R" >"$DIR/reads" &
  READING=$!
  sleep 1
  C0=$(cpu "$REDIS"); T0=$(date +%s.%N)
  RATE=$(taskset -c 1 redis-benchmark -p "$PORT" -c 10 -n "$N" -P "$PIPELINE" -q XADD bench:s MAXLEN '~' 100000 '*' o "$ORIGIN" m "$HEADER" p "$PAYLOAD" | tr '\r' '\n' | grep 'requests per second' | tail -1 | sed 's/.*: \([0-9.]*\) requests.*/\1/')
  C1=$(cpu "$REDIS"); T1=$(date +%s.%N)
  sleep 0.5
  kill "$READING"; wait "$READING" || true; READING=
  TICKS=$(getconf CLK_TCK)
  echo "readers $R: $RATE XADD/s, Redis $(echo "($C1 - $C0) / $TICKS * 1000000 / $N" | bc -l | cut -c1-5) µs CPU per entry, $(echo "($C1 - $C0) / $TICKS / ($T1 - $T0) * 100" | bc -l | cut -c1-4) % of its core; reads: $(cat "$DIR/reads")"
  kill "$REDIS"; wait "$REDIS" || true; REDIS=
  rm -rf "$DIR"; DIR=
done
