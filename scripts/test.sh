#!/usr/bin/env bash
# Runs every test project in Loadwise.sln and ends with one line: "tests: N passed, M failed[, K skipped]".
# Usage: bash scripts/test.sh [extra dotnet test args]
set -uo pipefail
cd "$(dirname "$0")/.."

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

status=0
dotnet build Loadwise.sln -c Release --nologo -v minimal || status=$?
if [ "$status" -eq 0 ]; then
  # One project at a time, each into its own folder, so that result files never collide.
  for project in $(find tests -name '*Tests.csproj' | sort); do
    name=$(basename "$project" .csproj)
    dotnet test "$project" -c Release --no-build --nologo \
      --logger "trx;LogFileName=$name.trx" --results-directory "$results/$name" "$@" || status=$?
  done
fi

passed=0; failed=0; skipped=0; files=0
for trx in "$results"/*/*.trx; do
  [ -e "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  p=$(get passed); f=$(get failed); t=$(get total); e=$(get executed)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${t:-0} - ${e:-0}))
done

if [ "$files" -eq 0 ] && [ "$status" -ne 0 ]; then
  echo "dotnet test failed before any test ran (build error?)" >&2
  failed=$((failed + 1))
fi

line="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
