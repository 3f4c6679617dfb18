#!/bin/bash
# Mutation check of the test suite: applies each mutant of mutants.txt, one at a time, to a
# scratch clone of the committed HEAD, runs `swift test`, and names every mutant the suite
# does not catch. About 40–70 s per mutant on 2 cores, so it is run by hand, not by CI.
#   Tests/mutation/run.sh            every mutant
#   Tests/mutation/run.sh D1 M5      only those
# Exit status: 0 when every mutant run was caught, 1 otherwise. Only the logs are left behind.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/stocksync-mutation.XXXXXX")
git clone -q "$repo" "$work/repo" && cd "$work/repo" || exit 1
# The clone's list, so that mutants edited during a run still match the sources they mutate.
list="$work/repo/Tests/mutation/mutants.txt"
dups=$(grep -v '^#' "$list" | cut -d'~' -f1 | grep . | sort | uniq -d)
[ -z "$dups" ] || { echo "mutant names used twice in mutants.txt: $dups"; exit 1; }
swift build --build-tests > "$work/build.log" 2>&1 || { echo "the unmutated build fails: $work/build.log"; exit 1; }
# The tests' scratch files go under $work: a mutant that crashes the test process leaves
# them behind (tens of MB each), and they are removed with the clone at the end.
mkdir -p "$work/tmp"
missed=0
while IFS='~' read -r name file from to; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ $# -gt 0 ] && [[ ! " $* " =~ " $name " ]]; then continue; fi
  cp "$file" "$work/original"
  count=$(FROM="$from" TO="$to" perl -0pi -e 'BEGIN { ($f, $t) = ($ENV{FROM}, $ENV{TO}); s/\\n/\n/g for $f, $t } $n += s/\Q$f\E/$t/g; END { print STDERR $n }' "$file" 2>&1)
  if [ "$count" != 1 ]; then
    echo "$name: its text occurs $count times in $file; update mutants.txt"
    missed=$((missed + 1))
  elif ! swift build --build-tests > "$work/$name.build" 2>&1; then
    echo "$name: does not build, so it tests nothing; update mutants.txt ($work/$name.build)"
    missed=$((missed + 1))
  else
    # A mutant that makes something hang (a stop that never returns) is caught by the time limit.
    TMPDIR="$work/tmp" timeout 1200 swift test --skip-build > "$work/$name.test" 2>&1
    status=$?
    if [ "$status" -eq 0 ]; then
      echo "$name: SURVIVED — no test fails ($file)"
      missed=$((missed + 1))
    elif [ "$status" -eq 124 ]; then
      echo "$name: caught (the suite hung and was stopped after 20 minutes)"
    else
      echo "$name: caught ($(grep -c '✘ Test' "$work/$name.test") failing)"
    fi
  fi
  cp "$work/original" "$file"
done < "$list"
# The clone's build (about 2 GB) and the tests' leftovers go; the logs stay.
rm -rf "$work/repo" "$work/tmp"
echo "$missed mutant(s) not caught; logs in $work"
[ "$missed" -eq 0 ]
