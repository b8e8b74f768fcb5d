#!/usr/bin/env bash
# The one test command (also what CI runs, through .ci/run).
#
#   ./test.sh             build the solution (Release) and run every test project
#   ./test.sh --coverage  the same, and print line and branch coverage per product assembly (coverage/summary.txt)
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
# slapd: the LDAP authentication tests start their own OpenLDAP server from its binaries (slapd, slapadd; it brings
# libldap, which System.DirectoryServices.Protocols loads).
# podman, runc, debootstrap: docker/podman-test.sh builds docker/Dockerfile and runs the image (podman with runc: crun
# fails on a v1/v2 cgroup hybrid; debootstrap makes the base images when no registry is reachable); netavark,
# aardvark-dns, slirp4netns: the network backend the script names and the user-space port publishing it runs with (only
# recommended by podman, so --no-install-recommends leaves them out); python3-yaml: it reads docker/compose.yaml.
# npm (only when there is none: a Node.js from elsewhere brings its own): the browser client tests fetch mqtt.js with it.
DEBIAN_PACKAGES=(postgresql mariadb-server slapd mosquitto-clients mosquitto python3-paho-mqtt chromium haproxy podman runc netavark aardvark-dns slirp4netns debootstrap python3-yaml)

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
if $COVERAGE; then test_args+=(--collect:"XPlat Code Coverage" --settings tests/coverage.runsettings); fi
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

# The container image: docker/podman-test.sh builds docker/Dockerfile with podman and runs its checks, each counted
# as a test. IOTHUB_CONTAINER_TESTS=0 leaves them out (counted as 1 skipped).
if [ "${IOTHUB_CONTAINER_TESTS-1}" = 0 ]; then
  echo "test.sh: container checks left out (IOTHUB_CONTAINER_TESTS=0)"
  skipped=$((skipped + 1))
else
  container_log="$RESULTS/container-checks.log"
  mkdir -p "$RESULTS"
  docker/podman-test.sh 2>&1 | tee "$container_log"
  container_summary=$(grep -E '^container checks: [0-9]+ passed, [0-9]+ failed$' "$container_log" | tail -n 1)
  if [ -n "$container_summary" ]; then
    passed=$((passed + $(echo "$container_summary" | awk '{ print $3 }')))
    failed=$((failed + $(echo "$container_summary" | awk '{ print $5 }')))
  else
    echo "test.sh: docker/podman-test.sh ended without its summary; counted as 1 failed" >&2
    failed=$((failed + 1))
  fi
fi

if $COVERAGE; then
  mkdir -p coverage
  # Merges the coverlet reports (JSON: one entry per branch) of all test projects: a line or a branch counts
  # as covered when any test run hit it.
  python3 - "$RESULTS" coverage/summary.txt <<'PY' || failed=$((failed + 1))
import glob, json, os, sys

results, summary = sys.argv[1], sys.argv[2]

lines = {}     # (assembly, file, line number) -> covered
branches = {}  # (assembly, file, class, method, line, IL offset, end offset, path, ordinal) -> covered
for report in glob.glob(os.path.join(results, "**", "coverage.json"), recursive=True):
    with open(report) as f:
        modules = json.load(f)
    for module, files in modules.items():
        assembly = os.path.splitext(module)[0]  # tests/coverage.runsettings leaves out what is not product code
        for file, classes in files.items():
            for cls, methods in classes.items():
                for method, data in methods.items():
                    for number, hits in data["Lines"].items():
                        key = (assembly, file, number)
                        lines[key] = lines.get(key, False) or hits > 0
                    for b in data["Branches"]:
                        key = (assembly, file, cls, method, b["Line"], b["Offset"], b["EndOffset"], b["Path"], b["Ordinal"])
                        branches[key] = branches.get(key, False) or b["Hits"] > 0
if not lines:
    sys.exit("test.sh: no coverage data found")

def per_assembly(points):
    counts = {}
    for key, covered in points.items():
        hit, total = counts.get(key[0], (0, 0))
        counts[key[0]] = (hit + covered, total + 1)
    return counts

def percent(hit, total):
    return f"{100 * hit / total:5.1f}%" if total else "    -"

line_counts, branch_counts = per_assembly(lines), per_assembly(branches)
rows = ["Coverage (all test projects merged):", f"  {'assembly':<16} {'lines':<22} branches"]
for assembly in sorted(line_counts) + ["all"]:
    if assembly == "all":
        lh, lt = (sum(c) for c in zip(*line_counts.values()))
        bh, bt = (sum(c) for c in zip(*branch_counts.values())) if branch_counts else (0, 0)
    else:
        (lh, lt), (bh, bt) = line_counts[assembly], branch_counts.get(assembly, (0, 0))
    rows.append(f"  {assembly:<16} {percent(lh, lt)} {f'({lh}/{lt})':<15} {percent(bh, bt)} ({bh}/{bt})")
with open(summary, "w") as f:
    f.write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
fi

finish "$passed" "$failed" "$skipped"
