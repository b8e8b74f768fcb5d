#!/usr/bin/env bash
# Builds docker/Dockerfile with podman (as it is, --pull=never) and checks the image it makes: the health
# endpoint, the image's HEALTHCHECK, a non-root process, an MQTT round trip with a user of a mounted
# Mosquitto password file, a retained message kept in the volume across a restart, and `podman stop`
# ending the broker cleanly within its drain timeout. test.sh runs it after the .NET tests.
#
# No registry is needed: when the images the Dockerfile starts from (mcr.microsoft.com/dotnet/sdk:10.0,
# mcr.microsoft.com/dotnet/aspnet:10.0) are missing, they are made once from a debootstrap of Debian
# bookworm (minbase, from the mirror apt uses) and this machine's own .NET installation, and kept in
# podman's storage for the next runs (rebuilt when the machine's .NET version changes; a real image of
# that name, pulled from the registry, is used as it is).
#
# Output: one line per check, "container check: PASS <name>" or "container check: FAIL <name>: <why>",
# timings, and last "container checks: N passed, N failed". Exit status 0 only when every check passed.
# Needs root, podman, runc, debootstrap, mosquitto-clients and mosquitto (test.sh installs them).
set -uo pipefail
cd "$(dirname "$0")/.."

SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ASPNET_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0
BASE_LABEL=org.iothub.local-base
DRAIN_TIMEOUT=10 # seconds: Mqtt:DrainTimeout's default, which the image keeps

passed=0 failed=0
pass() { echo "container check: PASS $1"; passed=$((passed + 1)); }
fail() { echo "container check: FAIL $1: $2"; failed=$((failed + 1)); }
script_started=$SECONDS
finish() {
  echo "container: ${build_seconds:-no} s build, $((SECONDS - script_started)) s in all"
  echo "container checks: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in podman runc debootstrap mosquitto_pub mosquitto_sub mosquitto_passwd curl stdbuf python3; do
  command -v "$tool" >/dev/null || { fail prerequisites "$tool not found"; finish; }
done
[ "$(id -u)" -eq 0 ] || { fail prerequisites "must run as root (debootstrap, chroot)"; finish; }

work=$(mktemp -d /var/tmp/iothub-podman.XXXXXX)
name=iothub-test-$$-$RANDOM
image=localhost/${name}:latest
volume=$name-data
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1
  podman rm -f -t 0 "$name-nousers" >/dev/null 2>&1
  podman volume rm -f "$volume" >/dev/null 2>&1
  podman rmi -f "$image" >/dev/null 2>&1
  # An interrupted debootstrap leaves /proc and /sys mounted in the new system: unmount them (deepest first), and
  # never let rm cross into another file system.
  local mount
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | while read -r mount; do umount -l "$mount"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# podman's defaults do not run here: crun fails on the machine's v1/v2 cgroup hybrid, the default rlimits
# (nofile 1048576) are above the hard limits of this process, which runc may not raise, and the bridge network
# needs iptables, which the machine does not have (nor should a test change its firewall): slirp4netns
# publishes ports from user space.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; } && nproc=$pid_max
cat >"$work/containers.conf" <<EOF
[containers]
netns = "slirp4netns"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[network]
network_backend = "netavark"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$work/containers.conf

# ---- compose.yaml ----------------------------------------------------------------------------------
# Parsed and checked for what it promises (running it needs a PostgreSQL image; docker/README.md). podman-compose
# 1.0.3 has no `config` command, and its --dry-run still creates volumes and networks.
if problems=$(python3 - docker/compose.yaml <<'PY' 2>&1
import os, sys, yaml
path = sys.argv[1]
with open(path) as f:
    doc = yaml.safe_load(f)
problems = []
services, volumes = doc.get("services") or {}, doc.get("volumes") or {}
broker, postgres = services.get("broker") or {}, services.get("postgres") or {}
build = broker.get("build") or {}
if not os.path.isfile(os.path.join(os.path.dirname(path), build.get("context", ""), build.get("dockerfile", ""))):
    problems.append("broker: build context and dockerfile do not name docker/Dockerfile")
env = broker.get("environment") or {}
if env.get("Storage__Provider") != "postgres" or "Host=postgres" not in str(env.get("Storage__ConnectionString")):
    problems.append("broker: not on the postgres service")
if not postgres.get("image", "").startswith("postgres:"):
    problems.append("postgres: no postgres image")
for name, service in (("broker", broker), ("postgres", postgres)):
    named = [v.split(":")[0] for v in service.get("volumes") or [] if not v.startswith((".", "/"))]
    if not named or any(v not in volumes for v in named):
        problems.append(f"{name}: no named volume declared under volumes")
if "1883:1883" not in [str(p).split("#")[0].strip() for p in broker.get("ports") or []]:
    problems.append("broker: MQTT port not published")
print("; ".join(problems))
sys.exit(1 if problems else 0)
PY
); then
  pass "compose.yaml: broker on PostgreSQL with named volumes"
else
  fail "compose.yaml" "$problems"
fi

# ---- the base images -------------------------------------------------------------------------------
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime_version=$(dotnet --list-runtimes | awk '$1 == "Microsoft.AspNetCore.App" && $2 ~ /^10\./ { print $2 }' | sort -V | tail -n 1)
sdk_version=$(dotnet --version)
base_version="$sdk_version/$runtime_version"

# 0: usable as it is (ours of this .NET version, or a real one); 1: to be made
base_ready() {
  podman image exists "$1" || return 1
  local label
  label=$(podman image inspect -f "{{index .Labels \"$BASE_LABEL\"}}" "$1" 2>/dev/null)
  [ -z "$label" ] || [ "$label" = "<no value>" ] || [ "$label" = "$base_version" ]
}

make_base_images() {
  local mirror rootfs=$work/rootfs common
  # The first Debian mirror apt uses (deb822 "URIs:" or one-line "deb" sources), not the security one.
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -o -E 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "container: making $SDK_IMAGE and $ASPNET_IMAGE (.NET $base_version) from a debootstrap of bookworm ($mirror)"
  # .NET needs ICU, OpenSSL and zlib; ca-certificates and tzdata as in the public images.
  debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,tzdata,zlib1g \
    bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log"; return 1; }
  # The public images' non-root user: app, uid and gid 1654, named by APP_UID.
  chroot "$rootfs" groupadd --gid 1654 app && chroot "$rootfs" useradd --uid 1654 --gid 1654 --create-home --shell /bin/false app || return 1
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  mkdir -p "$rootfs/usr/share/dotnet"
  cp -a "$dotnet_root/dotnet" "$dotnet_root/LICENSE.txt" "$dotnet_root/ThirdPartyNotices.txt" "$rootfs/usr/share/dotnet/" 2>/dev/null
  mkdir -p "$rootfs/usr/share/dotnet/host/fxr" "$rootfs/usr/share/dotnet/shared"
  cp -a "$dotnet_root/host/fxr/$runtime_version" "$rootfs/usr/share/dotnet/host/fxr/" 2>/dev/null ||
    cp -a "$dotnet_root/host/fxr/." "$rootfs/usr/share/dotnet/host/fxr/"
  for framework in Microsoft.NETCore.App Microsoft.AspNetCore.App; do
    mkdir -p "$rootfs/usr/share/dotnet/shared/$framework"
    cp -a "$dotnet_root/shared/$framework/$runtime_version" "$rootfs/usr/share/dotnet/shared/$framework/" || return 1
  done
  ln -s /usr/share/dotnet/dotnet "$rootfs/usr/bin/dotnet"
  common=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "ENV APP_UID=1654" --change "ENV DOTNET_RUNNING_IN_CONTAINER=true"
    --change "ENV DOTNET_VERSION=$runtime_version" --change "ENV ASPNET_VERSION=$runtime_version"
    --change "LABEL $BASE_LABEL=$base_version")
  podman rmi -f "$ASPNET_IMAGE" >/dev/null 2>&1
  tar -C "$rootfs" -c . | podman import "${common[@]}" --change "ENV ASPNETCORE_HTTP_PORTS=8080" - "$ASPNET_IMAGE" >/dev/null || return 1
  # The SDK image: the same system with the whole installation (SDK, packs, manifests). Builds in it use
  # the NuGet settings of this machine's builds.
  cp -a "$dotnet_root/." "$rootfs/usr/share/dotnet/"
  local nuget_env=()
  [ -n "${NUGET_CERT_REVOCATION_MODE-}" ] && nuget_env=(--change "ENV NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE")
  podman rmi -f "$SDK_IMAGE" >/dev/null 2>&1
  tar -C "$rootfs" -c . | podman import "${common[@]}" "${nuget_env[@]}" --change "ENV DOTNET_NOLOGO=true" \
    --change "ENV DOTNET_SDK_VERSION=$sdk_version" - "$SDK_IMAGE" >/dev/null || return 1
  rm -rf --one-file-system "$rootfs"
}

started=$(now)
exec 9>/var/tmp/iothub-podman-base.lock
flock 9 # another run making the same images: wait for it
if base_ready "$SDK_IMAGE" && base_ready "$ASPNET_IMAGE"; then
  pass "base images (cached)"
elif make_base_images; then
  pass "base images (made in $(since "$started") s)"
else
  fail "base images" "could not make them"
  finish
fi
flock -u 9

# ---- the build -------------------------------------------------------------------------------------
nuget_cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
mkdir -p "$nuget_cache"
started=$(now)
# The build's RUN shares the host's network (it only fetches from NuGet). --format docker keeps HEALTHCHECK
# (OCI image configs have no field for it); --layers=false leaves no intermediate images behind. The host's
# CA bundle lets NuGet reach nuget.org; its package cache saves downloading what this machine already has.
if podman build --pull=never --network host --format docker --layers=false -f docker/Dockerfile --ignorefile docker/Dockerfile.dockerignore \
  -v /etc/ssl/certs:/etc/ssl/certs:ro -v "$nuget_cache:/root/.nuget/packages" -t "$image" . >"$work/build.log" 2>&1; then
  build_seconds=$(since "$started")
  size=$(podman image inspect -f '{{.Size}}' "$image")
  pass "build (${build_seconds} s, image $((size / 1000000)) MB)"
else
  tail -n 30 "$work/build.log"
  fail build "podman build failed"
  finish
fi

user=$(podman image inspect -f '{{.Config.User}}' "$image")
case "$user" in
  "" | root | 0 | 0:*) fail "non-root user" "the image runs as '${user:-root}'" ;;
  *) pass "non-root user ($user)" ;;
esac
if [ -n "$(podman image inspect -f '{{if .HealthCheck}}{{.HealthCheck.Test}}{{end}}' "$image" 2>/dev/null)" ]; then
  pass "HEALTHCHECK declared"
else
  fail "HEALTHCHECK declared" "the image has none"
fi

# Without users the image must not open MQTT to the network: the host stops at start and says how to add them.
refusal=$(timeout 180 podman run --rm --name "$name-nousers" --network none "$image" 2>&1)
refusal_status=$?
if [ $refusal_status -ne 0 ] && [ $refusal_status -ne 124 ] && grep -q "no authenticator is configured" <<<"$refusal"; then
  pass "without users the image refuses to start (exit $refusal_status)"
else
  fail "without users the image refuses to start" "exit $refusal_status: $(tail -n 3 <<<"$refusal" | tr '\n' ' ')"
fi

# ---- run it ----------------------------------------------------------------------------------------
MQTT_USER=alice MQTT_PASSWORD="pw-$RANDOM-$RANDOM"
mosquitto_passwd -c -b "$work/passwd" "$MQTT_USER" "$MQTT_PASSWORD" >/dev/null
chmod 0644 "$work/passwd" # read by the image's user (uid 1654), not root
podman volume create "$volume" >/dev/null

http_port='' mqtt_port=''
start_container() {
  # Ports 0 of the loopback interface: podman picks free ones.
  podman run -d --network slirp4netns --name "$name" --stop-timeout 30 -p 127.0.0.1::8080 -p 127.0.0.1::1883 \
    -v "$volume:/var/lib/iothub" -v "$work/passwd:/etc/iothub/passwd:ro" -e Security__PasswordFile=/etc/iothub/passwd \
    "$image" >/dev/null 2>>"$work/podman.log"
}
read_ports() {
  http_port=$(podman port "$name" 8080/tcp | head -n 1 | sed 's/.*://')
  mqtt_port=$(podman port "$name" 1883/tcp | head -n 1 | sed 's/.*://')
}
# Polls /health/ready until it answers 200, up to $1 seconds.
wait_ready() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$http_port/health/ready")" = 200 ] && return 0
    [ "$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || return 1
    sleep 0.2
  done
  return 1
}

started=$(now)
if ! start_container; then
  cat "$work/podman.log"
  fail start "podman run failed"
  finish
fi
read_ports
if wait_ready 90; then
  pass "/health/ready answers 200 (after $(since "$started") s)"
else
  podman logs "$name" 2>&1 | tail -n 30
  fail "/health/ready" "no 200 within 90 s (ports $http_port, $mqtt_port)"
  finish
fi

if podman healthcheck run "$name" >/dev/null 2>&1; then pass "HEALTHCHECK passes"; else fail "HEALTHCHECK passes" "podman healthcheck run failed"; fi

process_user=$(podman top "$name" user 2>/dev/null | sed -n 2p | tr -d ' ')
case "$process_user" in
  "" | root | 0) fail "process not root" "runs as '${process_user}'" ;;
  *) pass "process not root ($process_user)" ;;
esac

mqtt=(-h 127.0.0.1 -p "$mqtt_port" -u "$MQTT_USER" -P "$MQTT_PASSWORD")
# The live round trip: a subscriber (3.1.1) waits for its SUBACK before anything is published.
# stdbuf -oL: its lines as they come (a file gets its output in blocks otherwise, SUBACK only at the end).
stdbuf -oL mosquitto_sub "${mqtt[@]}" -i sub-$$ -t 'container/live' -q 1 -C 1 -W 90 -d >"$work/sub.out" 2>&1 &
sub_pid=$!
deadline=$((SECONDS + 60))
until grep -q SUBACK "$work/sub.out" || [ $SECONDS -ge $deadline ] || ! kill -0 $sub_pid 2>/dev/null; do sleep 0.1; done
live="live-$RANDOM"
mosquitto_pub "${mqtt[@]}" -i pub-$$ -V mqttv5 -t container/live -q 1 -m "$live" 2>"$work/pub.err"
pub_status=$?
wait $sub_pid
if [ $pub_status -eq 0 ] && grep -qx "$live" "$work/sub.out"; then
  pass "MQTT round trip with a password-file user"
else
  fail "MQTT round trip with a password-file user" "mosquitto_pub exit $pub_status; $(tail -n 3 "$work/sub.out" "$work/pub.err" | tr '\n' ' ')"
fi

if mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -u "$MQTT_USER" -P wrong -t container/x -m x 2>/dev/null; then
  fail "wrong password refused" "the broker took it"
elif mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -t container/x -m x 2>/dev/null; then
  fail "anonymous client refused" "the broker took it"
else
  pass "wrong password and anonymous client refused"
fi

retained="retained-$RANDOM"
mosquitto_pub "${mqtt[@]}" -V mqttv5 -t container/retained -q 1 -r -m "$retained" || fail "retained publish" "mosquitto_pub failed"

# podman stop: SIGTERM, the broker drains and exits 0 before the drain timeout is up (an idle broker
# has nothing to drain); a SIGKILL after --stop-timeout would show as exit code 137.
started=$(now)
podman stop -t 30 "$name" >/dev/null 2>>"$work/podman.log"
stop_status=$?
stop_seconds=$(since "$started")
exit_code=$(podman inspect -f '{{.State.ExitCode}}' "$name")
if [ $stop_status -eq 0 ] && [ "$exit_code" = 0 ] && awk -v s="$stop_seconds" -v t=$DRAIN_TIMEOUT 'BEGIN { exit !(s < t) }'; then
  pass "podman stop exits 0 in $stop_seconds s (drain timeout $DRAIN_TIMEOUT s)"
else
  podman logs "$name" 2>&1 | tail -n 20
  fail "podman stop" "status $stop_status, container exit code $exit_code, $stop_seconds s"
fi

started=$(now)
podman start "$name" >/dev/null 2>>"$work/podman.log"
read_ports # published ports of port 0 may change at a restart
if wait_ready 90; then
  got=$(mosquitto_sub "${mqtt[@]}" -t container/retained -C 1 -W 20 2>&1)
  if [ "$got" = "$retained" ]; then
    pass "retained message kept in the volume across a restart (ready after $(since "$started") s)"
  else
    fail "retained message kept across a restart" "got '$got'"
  fi
else
  podman logs "$name" 2>&1 | tail -n 30
  fail "restart" "no 200 from /health/ready within 90 s"
fi

finish
