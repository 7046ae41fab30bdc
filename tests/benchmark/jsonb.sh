#!/usr/bin/env bash
# Benchmark: postgres-jsonb against the raw COPY pipe, in the same run, on the orders-like table of
# full-extract.sh (bigint, text, numeric, timestamptz, text[] tags, jsonb payload of 3 keys):
#   pipe       psql -c "COPY orders TO STDOUT (FORMAT binary)" | psql -c "COPY ... FROM STDIN (FORMAT binary)"
#   plain      postgres-jsonb --table public.orders            (goal: within 0.85 of the pipe)
#   flatten    postgres-jsonb ... --flatten payload            (3 typed columns more)
#   explode    postgres-jsonb ... --explode tags               (a child table of 2 rows per order)
# Prints each time, its throughput and its ratio to the pipe (start-up of JBang and the JVM included).
#
# Usage: tests/benchmark/jsonb.sh [rows] [rounds]     (default 5000000 rows, 2 rounds)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser; the scratch databases
#        bench_source and bench_warehouse are created), psql, bc and a JDK 21+ for ./jbang.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_source bench_warehouse

rows=${1:-5000000}
rounds=${2:-2}
export SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url"

say "preparing $rows orders-like rows in bench_source (kept between runs of the same size)"
prepare_databases
prepare_orders "$rows"
psql -qX "$warehouse_url" -c "CREATE TABLE public.orders_pipe ($orders_columns)"
say "warming up (JBang builds the datakit and its class-data archive on a first run)"
./jbang postgres-jsonb --table public.orders --where "id <= 1000" --target-table warm_up >/dev/null

# Each load starts on empty tables, untimed, and is followed by a CHECKPOINT, untimed.
clean() {
  psql -qX "$warehouse_url" -c "SET client_min_messages = warning" -c "TRUNCATE public.orders_pipe" \
    -c "DROP TABLE IF EXISTS bronze.orders, bronze.orders__tags" -c "CHECKPOINT"
}
kit() {
  local start
  clean
  start=$(seconds)
  ./jbang --java-options="-Xmx$heap" postgres-jsonb --table public.orders "$@" --json >/dev/null
  since "$start"
}
pipe_best=""; plain_best=""; flatten_best=""; explode_best=""
for round in $(seq 1 "$rounds"); do
  clean
  start=$(seconds)
  psql -qX "$source_url" -c "COPY public.orders TO STDOUT (FORMAT binary)" \
    | psql -qX "$warehouse_url" -c "COPY public.orders_pipe FROM STDIN (FORMAT binary)"
  pipe=$(since "$start")
  plain=$(kit)
  flatten=$(kit --flatten payload)
  explode=$(kit --explode tags)
  children=$(psql -qtAX "$warehouse_url" -c "SELECT count(*) FROM bronze.orders__tags")
  say "round $round: pipe $(printf '%.1f' "$pipe") s, plain $(printf '%.1f' "$plain") s, --flatten payload $(printf '%.1f' "$flatten") s," \
    "--explode tags $(printf '%.1f' "$explode") s ($children child rows)"
  pipe_best=$(best "$pipe_best" "$pipe"); plain_best=$(best "$plain_best" "$plain")
  flatten_best=$(best "$flatten_best" "$flatten"); explode_best=$(best "$explode_best" "$explode")
done

ratio() { echo "scale=3; $1 / $2" | bc; }
printf 'rows=%s  pipe=%.1fs  plain=%.1fs (ratio to pipe %s)  flatten=%.1fs (%s, %s of plain)  explode=%.1fs (%s, %s of plain)\n' \
  "$rows" "$pipe_best" "$plain_best" "$(ratio "$pipe_best" "$plain_best")" \
  "$flatten_best" "$(ratio "$pipe_best" "$flatten_best")" "$(ratio "$flatten_best" "$plain_best")" \
  "$explode_best" "$(ratio "$pipe_best" "$explode_best")" "$(ratio "$explode_best" "$plain_best")"
