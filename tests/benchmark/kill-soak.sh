#!/usr/bin/env bash
# Kill soak: the suite's kill loops (tests/java/datakit/reliability/KillLoopIT) with more iterations. Each
# mode (full replace, incremental merge and append at once, partitioned, CDC --apply under a steady writer)
# is started <iterations> times in its own JVM and killed with SIGKILL at a random moment of its run while
# the source changes; then bronze is compared with the source row by row. Prints one line per scenario
# (runs killed mid-run, rows compared, lost, extra, duplicates, the seed) and exits non-zero on any difference.
#
# Usage: tests/benchmark/kill-soak.sh [iterations] [seed]   (default 100; a seed replays the kill moments)
# Needs: what the test suite needs (README.md): Maven, a JDK 21+ (JAVA_HOME), and DATAKIT_TEST_DATABASE_URL
#        pointing at a server with wal_level=logical, or local PostgreSQL binaries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

iterations=${1:-100}
seed=()
if [ -n "${2:-}" ]; then seed=("-Ddatakit.kill.seed=$2"); fi
figures=target/reliability/kill-loops.txt

rm -f "$figures"
status=0
mvn -B -q verify -Dtest=NoSuchTest -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=KillLoopIT \
  -Ddatakit.kill.iterations="$iterations" "${seed[@]}" || status=$?
cat "$figures" 2>/dev/null || echo "no figures: the kill loops did not get to the end (see target/failsafe-reports)" >&2
exit "$status"
