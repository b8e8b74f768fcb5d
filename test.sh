#!/usr/bin/env bash
# The one test command (also what CI runs, through .ci/run).
#
#   ./test.sh             build the solution (Release) and run every test project
#   ./test.sh --coverage  the same, and print line coverage per product assembly (coverage/summary.txt)
#
# The last line is always "N passed, N failed, N skipped", read from the TRX files. When the tests
# cannot run at all (no dotnet, a missing package, a failed build) or `dotnet test` fails without a
# failing test (a crashed test host, no results), that counts as 1 failed. Exit status: 0 only when
# nothing failed.
set -uo pipefail
cd "$(dirname "$0")"

# Debian packages the tests need. Later issues add theirs here.
# postgresql: the storage tests start their own server from its binaries; mosquitto-clients and
# python3-paho-mqtt: the interop tests drive the broker with clients written by others; mosquitto: its
# mosquitto_passwd writes the password files the authentication tests read; chromium: the
# dashboard tests drive Debian's /usr/bin/chromium headless through Playwright (which never downloads a browser);
# haproxy: the PROXY protocol tests put a real HAProxy (send-proxy, send-proxy-v2) in front of the broker.
# mariadb-server: the SQL authentication tests start their own MariaDB from its binaries, as they do PostgreSQL.
# npm (only when there is none: a Node.js from elsewhere brings its own): the browser client tests fetch mqtt.js with it.
DEBIAN_PACKAGES=(postgresql mariadb-server mosquitto-clients mosquitto python3-paho-mqtt chromium haproxy)

RESULTS=TestResults
COVERAGE=false
case "${1-}" in
  "") ;;
  --coverage) COVERAGE=true ;;
  *) echo "usage: ./test.sh [--coverage]" >&2; exit 2 ;;
esac

finish() { # passed failed skipped
  echo "$1 passed, $2 failed, $3 skipped"
  [ "$2" -eq 0 ]
  exit
}

# Installs the missing ones of the given Debian packages (root only; otherwise says what to install).
install_debian_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing Debian packages; install them with: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if ! command -v dotnet >/dev/null; then
  echo "test.sh: dotnet not found; install the .NET 10 SDK (see global.json) and put dotnet on PATH." >&2
  finish 0 1 0
fi

packages=("${DEBIAN_PACKAGES[@]}")
if $COVERAGE && ! command -v python3 >/dev/null; then packages+=(python3); fi
if ! command -v npm >/dev/null; then packages+=(npm); fi
install_debian_packages "${packages[@]}" || finish 0 1 0

rm -rf "$RESULTS"
if $COVERAGE; then rm -rf coverage; fi

# No build servers: a test run leaves no MSBuild or compiler processes behind.
if ! dotnet build IoTHub.Web.sln -c Release --nologo --disable-build-servers; then
  echo "test.sh: build failed" >&2
  finish 0 1 0
fi

test_args=(--no-build -c Release --nologo --disable-build-servers --logger trx --results-directory "$RESULTS"
  --blame-hang-timeout 5min --blame-hang-dump-type none)
if $COVERAGE; then test_args+=(--collect:"XPlat Code Coverage"); fi
dotnet test IoTHub.Web.sln "${test_args[@]}"
test_status=$?

counter() { # name trx-file: one attribute of the file's <Counters> element
  grep -o '<Counters [^>]*>' "$2" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]\+' || echo 0
}
total=0 passed=0 skipped=0
shopt -s nullglob
trx_files=("$RESULTS"/*.trx)
for trx in "${trx_files[@]}"; do
  total=$((total + $(counter total "$trx")))
  passed=$((passed + $(counter passed "$trx")))
  skipped=$((skipped + $(counter notExecuted "$trx")))
done
failed=$((total - passed - skipped))
if [ "$failed" -eq 0 ] && { [ "$test_status" -ne 0 ] || [ ${#trx_files[@]} -eq 0 ]; }; then
  echo "test.sh: dotnet test failed (exit $test_status, ${#trx_files[@]} result files) without a failing test; counted as 1 failed" >&2
  failed=1
fi

if $COVERAGE; then
  mkdir -p coverage
  # Merges the Cobertura files of all test projects: a line counts as covered when any test run hit it.
  python3 - "$RESULTS" coverage/summary.txt <<'PY' || failed=$((failed + 1))
import glob, os, sys
import xml.etree.ElementTree as ET

results, summary = sys.argv[1], sys.argv[2]

def absolute(sources, filename):
    # File names are relative to one of the report's <source> folders, which differ between reports.
    paths = [os.path.normpath(os.path.join(source, filename)) for source in sources]
    return next((p for p in paths if os.path.exists(p)), paths[0] if paths else filename)

lines = {}  # (assembly, file, line number) -> covered
for report in glob.glob(os.path.join(results, "**", "coverage.cobertura.xml"), recursive=True):
    root = ET.parse(report).getroot()
    sources = [source.text or "" for source in root.iter("source")]
    for package in root.iter("package"):
        assembly = package.get("name")
        if assembly.endswith(".Tests") or assembly.endswith(".Benchmarks"):
            continue
        for cls in package.iter("class"):
            for line in cls.findall("./lines/line"):
                key = (assembly, absolute(sources, cls.get("filename")), line.get("number"))
                lines[key] = lines.get(key, False) or int(line.get("hits")) > 0
if not lines:
    sys.exit("test.sh: no coverage data found")

per_assembly = {}
for (assembly, _, _), covered in lines.items():
    hit, total = per_assembly.get(assembly, (0, 0))
    per_assembly[assembly] = (hit + covered, total + 1)
rows = ["Line coverage (all test projects merged):"]
for assembly, (hit, total) in sorted(per_assembly.items()):
    rows.append(f"  {assembly:<20} {100 * hit / total:5.1f}%  ({hit}/{total} lines)")
hit = sum(h for h, _ in per_assembly.values())
total = sum(t for _, t in per_assembly.values())
rows.append(f"  {'all':<20} {100 * hit / total:5.1f}%  ({hit}/{total} lines)")
with open(summary, "w") as f:
    f.write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
fi

finish "$passed" "$failed" "$skipped"
