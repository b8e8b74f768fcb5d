#!/usr/bin/env bash
# QoS 1 throughput into an offline persistent session, per storage provider (PostgreSQL on a server
# the script starts from Debian's binaries, as root), next to Mosquitto with
# `persistence true`: the cost of "a PUBACK means stored". One mosquitto_pub sends N messages read
# from stdin at QoS 1 (it keeps up to 20 in flight); the time until it exits is measured.
# Brokers are pinned to core 0, the client to core 1. Loopback only; every broker is stopped at the end.
#
#   tests/IoTHub.LoadTest/scripts/persistent-qos1.sh [messages]      (default 20000)
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=${1:-20000}
HOST_DLL=src/IoTHub.Web/bin/Release/net10.0/IoTHub.Web.dll
[ -f "$HOST_DLL" ] || dotnet build src/IoTHub.Web -c Release --nologo -v q
WORK=$(mktemp -d)
PIDS=()
# PostgreSQL from Debian's binaries (apt-get install postgresql), in a folder of its own owned by postgres.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)
PGDIR=$(mktemp -d)
chown postgres:postgres "$PGDIR"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop > /dev/null 2>&1 || true
  rm -rf "$WORK" "$PGDIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

run_case() { # name port
  local name=$1 port=$2
  mosquitto_sub -h 127.0.0.1 -p "$port" -c -i bench-subscriber -q 1 -t bench -E
  seq 1 "$N" > "$WORK/lines"
  local start end
  start=$(date +%s.%N)
  taskset -c 1 mosquitto_pub -h 127.0.0.1 -p "$port" -i bench-publisher -q 1 -t bench -l < "$WORK/lines"
  end=$(date +%s.%N)
  python3 -c "import sys; n=$N; t=$end-$start; print(f'| {sys.argv[1]} | {n} | {t:.2f} s | {n/t:,.0f} |')" "$name"
}

echo "| broker and storage | messages | time | QoS 1 msgs/s into an offline persistent session |"
echo "| --- | ---: | ---: | ---: |"
pgport=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust --no-sync > /dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -o "-k $PGDIR -h 127.0.0.1 -p $pgport" start > /dev/null

for store in memory:Strict file:Strict file:Relaxed sqlite:Strict sqlite:Relaxed postgres:Strict postgres:Relaxed; do
  provider=${store%%:*} durability=${store##*:}
  port=$(free_port)
  database=bench_$(echo "$durability" | tr 'A-Z' 'a-z')
  [ "$provider" = postgres ] && runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" "$database"
  taskset -c 0 dotnet "$HOST_DLL" --mqtt-port "$port" --http-port 0 --data-dir "$WORK/$provider-$durability" \
    --Storage:Provider=$provider --Storage:Durability=$durability --Logging:LogLevel:Default=Warning \
    --Storage:ConnectionString="Host=127.0.0.1;Port=$pgport;Username=postgres;Database=$database" --Storage:MigrateOnStart=true \
    --Mqtt:MaximumQueuedMessages=1000000 --Mqtt:MaximumQueuedBytes=1000000000 > "$WORK/$provider.log" 2>&1 &
  PIDS+=($!)
  wait_port "$port"
  run_case "IoTHub, $provider ($durability)" "$port"
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
done

port=$(free_port)
mkdir -p "$WORK/mosquitto"
cat > "$WORK/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $WORK/mosquitto/
max_queued_messages 1000000
CONF
taskset -c 0 mosquitto -c "$WORK/mosquitto.conf" > "$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_port "$port"
run_case "Mosquitto, persistence true" "$port"
