#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds with warnings as errors, checks formatting, then runs every test
# project. The tests start their own throwaway PostgreSQL 15 and MariaDB 10.11 (installing MariaDB with apt-get if it
# is missing; see tests/rig/db-servers.sh) and stop them at the end. Ends with a plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results=artifacts/test-results
rm -rf "$results"; mkdir -p "$results"

echo "== build (warnings are errors)"
if ! dotnet build Switchboard.slnx -c Release -nologo -v quiet; then
  echo "0 passed, 1 failed"; exit 1
fi

echo "== format"
format_failed=0
if ! dotnet format Switchboard.slnx --verify-no-changes --no-restore -v quiet; then
  echo "dotnet format found files to change (run: dotnet format Switchboard.slnx)"; format_failed=1
fi

echo "== tests"
# --blame-hang: a test that hangs is named and its run ends after 10 minutes, instead of CI's time limit ending it all.
dotnet test Switchboard.slnx -c Release --no-build -nologo \
  --blame-hang --blame-hang-timeout 10min --blame-hang-dump-type none \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results" "$@"
test_exit=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p'); f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done

echo "== tests by dialect (passed / failed)"
for dialect in Sqlite PostgreSql MySql; do
  dp=$(cat "$results"/*.trx 2>/dev/null | grep -o "testName=\"Switchboard[.A-Za-z]*\.Tests\.$dialect\.[^\"]*\"[^>]*outcome=\"Passed\"" | wc -l)
  df=$(cat "$results"/*.trx 2>/dev/null | grep -o "testName=\"Switchboard[.A-Za-z]*\.Tests\.$dialect\.[^\"]*\"[^>]*outcome=\"Failed\"" | wc -l)
  echo "  $dialect: $dp passed, $df failed"
done

if [ "$format_failed" = 1 ]; then failed=$((failed + 1)); fi
if [ "$test_exit" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi   # a crash before any result was written
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
