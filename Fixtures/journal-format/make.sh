#!/bin/sh
# Writes vN/journal.sql: the database a schema-version-N build of stocksync leaves after
# ingesting history.jsonl and syncing store 'main' once against a sandbox store (with one
# item refused), dumped as SQL with the file header's pragmas, and what that build printed
# for it (vN/expected-*). JournalFormatTests loads each version's file and checks this build
# still reads it exactly as the build that wrote it did.
#
# Run it only when adding the fixture of a NEW schema version: the point of each vN is that
# it was written by version N and never changes, so the script refuses to overwrite one.
# Needs a release build and the sqlite3 shell: Fixtures/journal-format/make.sh
#
# v4, checked when it was made (2026-12-07): the builds that introduced schema 3 (f1f9ebc, binary
# payloads) and schema 4 (52979fa, packed document effects) write the same journal bytes for
# history.jsonl as the build that made v4, and 52979fa the same documents, cells,
# variants and catalogue rows: v4 stands for every version-4 database.
# v5 was made by the build that introduced schema 5 (variant rows in the binary encoding,
# resyncs that list products); v6 by the build that introduced schema 6 (e0a7d28: each
# projection table's last change marked in projection_meta).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${STOCKSYNC:-$here/../../.build/release/stocksync}
tmp=$(mktemp -d)
trap 'kill $sandbox 2>/dev/null || true; rm -rf "$tmp"' EXIT
db=$tmp/f.db

"$bin" ingest --db "$db" "$here/history.jsonl"
"$bin" sandbox --seed "$here/seed-main.json" --consumer-key ck_fixture --consumer-secret cs_fixture \
    --faults item-error=103:400:woocommerce_rest_invalid_stock > "$tmp/sandbox.out" &
sandbox=$!
until grep -q listening "$tmp/sandbox.out" 2>/dev/null; do sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/sandbox.out" | head -n 1)
"$bin" store reconfigure main --url "$url" --db "$db"
printf '{"stores":{"main":{"consumer_key":"ck_fixture","consumer_secret":"cs_fixture"}}}' > "$tmp/credentials.json"
chmod 600 "$tmp/credentials.json"
"$bin" sync --once --store main --db "$db" --credentials "$tmp/credentials.json"
# 'eu' has no credentials: its pending update stays, and sync says so (77).
"$bin" sync --once --db "$db" --credentials "$tmp/credentials.json" || test $? -eq 77
# A resync that lists its products (schema 5 on; v4 was made without this line).
"$bin" resync --store main --sku CHAIR-1 --db "$db"

sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null
version=$(sqlite3 "$db" 'PRAGMA user_version')
dir=$here/v$version
if [ -e "$dir" ]; then echo "$dir exists: a fixture is never rewritten" >&2; exit 1; fi
mkdir "$dir"
out=$dir/journal.sql
{
    echo "-- Written by make.sh: a stocksync database of schema version $version, as that version wrote it."
    echo "PRAGMA page_size = $(sqlite3 "$db" 'PRAGMA page_size');"
    sqlite3 "$db" .dump
    echo "PRAGMA application_id = $(sqlite3 "$db" 'PRAGMA application_id');"
    echo "PRAGMA user_version = $(sqlite3 "$db" 'PRAGMA user_version');"
} > "$out"
"$bin" log --json --db "$db" > "$dir/expected-log.jsonl"
"$bin" stock --json --db "$db" > "$dir/expected-stock.json"
"$bin" outbox --json --db "$db" > "$dir/expected-outbox.json"
"$bin" store list --json --db "$db" > "$dir/expected-stores.json"
