#!/usr/bin/env bash
# Runs an afl++ campaign on one harness for a given time (issue 24):
#   tests/IoTHub.Fuzz/fuzz.sh decoder|connection [seconds, default 600]
# Installs what it needs when missing (Debian's afl++, the SharpFuzz instrumenter as a local dotnet tool), builds the
# harnesses, instruments the code under test (IoTHub.Mqtt, and IoTHub.Broker for the connection), and runs afl-fuzz
# against SharpFuzz's out-of-process runner: a hang then costs afl one restart of the dotnet process, not the campaign.
# Findings go to tests/IoTHub.Fuzz/findings/<harness>-<time>/ (not committed); crashes and hangs are also copied into
# failures/<harness>/ (committed: the test command replays them once their cause is fixed). Ends with one summary line.
set -euo pipefail

harness=${1:-}
seconds=${2:-600}
if [[ "$harness" != decoder && "$harness" != connection ]] || ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 decoder|connection [seconds]" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! command -v afl-fuzz >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi

tools=$here/.tools
if [[ ! -x $tools/sharpfuzz ]]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

build=$(mktemp -d /tmp/iothub-fuzz-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
dotnet build "$here/IoTHub.Fuzz.csproj" -c Release -o "$build" --nologo -v quiet >/dev/null
"$tools/sharpfuzz" "$build/IoTHub.Mqtt.dll" >/dev/null
if [[ $harness == connection ]]; then
  "$tools/sharpfuzz" "$build/IoTHub.Broker.dll" >/dev/null
fi

findings=$here/findings/$harness-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$findings"
# The dotnet host is not instrumented itself (the assemblies are), and a container may not let afl tune the CPU or core dumps.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
afl-fuzz -V "$seconds" -i "$here/corpus/$harness" -o "$findings" -x "$here/mqtt.dict" -t 10000 -m none \
  -- dotnet "$build/IoTHub.Fuzz.dll" "$harness" >"$findings/afl.log" 2>&1 || { tail -20 "$findings/afl.log" >&2; exit 1; }

kept=0
for found in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:*; do
  [[ -e $found ]] || continue
  mkdir -p "$here/failures/$harness"
  cp "$found" "$here/failures/$harness/$(sha1sum "$found" | cut -c1-16)"
  kept=$((kept + 1))
done

stat() { sed -n "s/^$1 *: *//p" "$findings/default/fuzzer_stats"; }
echo "$harness: $(stat execs_done) executions in $(stat run_time) s ($(stat execs_per_sec)/s), $(stat edges_found) edges," \
  "corpus $(stat corpus_count), $(stat saved_crashes) crashes, $(stat saved_hangs) hangs; $kept copied into failures/$harness; afl output in $findings"
