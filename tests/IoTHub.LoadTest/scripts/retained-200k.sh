#!/usr/bin/env bash
# Issue 24's retained measurement: N retained QoS 1 messages (topics dev/NNNNNN/state) stored in a fresh host with its
# default limits and memory storage, then one mosquitto_sub per QoS (0 and 1) subscribing to dev/# with -C N, which
# exits at the Nth message; prints how many each received and how long it took. Loopback only; the host is stopped
# at the end.
#
#   tests/IoTHub.LoadTest/scripts/retained-200k.sh [messages]      (default 200000)
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=${1:-200000}
PORT=18830
HOST_DLL=src/IoTHub.Web/bin/Release/net10.0/IoTHub.Web.dll
[ -f "$HOST_DLL" ] || dotnet build src/IoTHub.Web -c Release --nologo -v q
WORK=$(mktemp -d)
dotnet "$HOST_DLL" --http-port 0 --data-dir "$WORK" --Mqtt:Port=$PORT --Storage:Provider=Memory >"$WORK/host.log" 2>&1 &
HOST=$!
trap 'kill $HOST 2>/dev/null; wait $HOST 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q "MQTT listening" "$WORK/host.log" && break; sleep 0.2; done

# The publisher speaks MQTT 3.1.1 over a raw socket: 200 000 mosquitto_pub processes would take minutes.
python3 - "$PORT" "$N" <<'PY'
import socket, struct, sys, threading
def vbi(n):
    out = b''
    while True:
        n, b = divmod(n, 128)
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out
def text(x):
    x = x.encode()
    return struct.pack('>H', len(x)) + x
port, count = int(sys.argv[1]), int(sys.argv[2])
c = socket.create_connection(('127.0.0.1', port))
variable = text('MQTT') + bytes([4, 2]) + struct.pack('>H', 60)
payload = text('retained-publisher')
c.sendall(bytes([0x10]) + vbi(len(variable + payload)) + variable + payload)
assert c.recv(4)[:2] == b'\x20\x02'
done = threading.Event()
def read_acks():  # PUBACKs (4 bytes each), then the PINGRESP that says every PUBLISH before it was handled
    pending = b''
    while True:
        pending += c.recv(65536)
        while len(pending) >= 2:
            size = 2 + pending[1]
            if len(pending) < size:
                break
            if pending[0] == 0xd0:
                done.set()
                return
            pending = pending[size:]
threading.Thread(target=read_acks, daemon=True).start()
batch = bytearray()
for i in range(count):
    body = text('dev/%06d/state' % i) + struct.pack('>H', i % 65535 + 1) + b'{"v":%d}' % i
    batch += bytes([0x33]) + vbi(len(body)) + body
    if len(batch) > 65536:
        c.sendall(batch)
        batch = bytearray()
c.sendall(bytes(batch) + b'\xc0\x00')
assert done.wait(120), 'no PINGRESP'
c.sendall(b'\xe0\x00')
c.shutdown(socket.SHUT_WR)
while c.recv(65536):  # closing with unread bytes would reset the connection
    pass
c.close()
PY

for qos in 0 1; do
  start=$(date +%s.%N)
  got=$(timeout 300 mosquitto_sub -p $PORT -t "dev/#" -q $qos -C "$N" -W 120 -i "retained-reader-$qos" | wc -l || true)
  echo "QoS $qos: $got of $N retained messages in $(echo "$(date +%s.%N) - $start" | bc) s"
done
