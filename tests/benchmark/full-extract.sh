#!/usr/bin/env bash
# Benchmark: postgres-extract against the raw COPY pipe it should come close to,
#   psql -c "COPY ... TO STDOUT (FORMAT binary)" | psql -c "COPY ... FROM STDIN (FORMAT binary)"
# on an orders-like table (bigint, text, numeric, timestamptz, text[], jsonb), in the same run,
# with the datakit's JVM heap capped. Prints both throughputs and their ratio (goal: >= 0.85).
#
# Usage: tests/benchmark/full-extract.sh [rows] [rounds]     (default 5000000 rows, 2 rounds)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser on a server
#        that may get two scratch databases, bench_source and bench_warehouse), psql, and a JDK 21+
#        for ./jbang. BENCH_HEAP (default 256m) caps the datakit's heap.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_source bench_warehouse

rows=${1:-5000000}
rounds=${2:-2}

say "preparing $rows orders-like rows in bench_source (kept between runs of the same size)"
prepare_databases
prepare_orders "$rows"
size=$(psql -qtAX "$source_url" -c "SELECT pg_size_pretty(pg_table_size('public.orders'))")
say "source table: $rows rows, $size"
psql -qX "$warehouse_url" -c "CREATE TABLE public.orders_pipe ($orders_columns)"

pipe_best=""
kit_best=""
peak_heap=""
for round in $(seq 1 "$rounds"); do
  psql -qX "$warehouse_url" -c "TRUNCATE public.orders_pipe" -c "CHECKPOINT"
  start=$(seconds)
  psql -qX "$source_url" -c "COPY public.orders TO STDOUT (FORMAT binary)" \
    | psql -qX "$warehouse_url" -c "COPY public.orders_pipe FROM STDIN (FORMAT binary)"
  pipe=$(since "$start")
  psql -qX "$warehouse_url" -c "CHECKPOINT"

  start=$(seconds)
  summary=$(SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url" \
    ./jbang --java-options="-Xmx$heap" postgres-extract --table public.orders --json)
  kit=$(since "$start")
  peak_heap=$(peak_heap_of "$summary")
  loaded=$(psql -qtAX "$warehouse_url" -c "SELECT count(*) FROM bronze.orders")
  [ "$loaded" = "$rows" ] || { say "bronze.orders has $loaded rows, expected $rows"; exit 1; }
  say "round $round: pipe $(printf '%.1f' "$pipe") s, postgres-extract $(printf '%.1f' "$kit") s (heap cap $heap, peak heap $((peak_heap / 1048576)) MiB)"
  pipe_best=$(best "$pipe_best" "$pipe"); kit_best=$(best "$kit_best" "$kit")
done

ratio=$(echo "scale=3; $pipe_best / $kit_best" | bc)
printf 'rows=%s  pipe=%.1fs (%.0f rows/s)  postgres-extract=%.1fs (%.0f rows/s)  ratio=%s  peak_heap=%sMiB  heap_cap=%s\n' \
  "$rows" "$pipe_best" "$(echo "$rows / $pipe_best" | bc)" "$kit_best" "$(echo "$rows / $kit_best" | bc)" "$ratio" \
  "$((peak_heap / 1048576))" "$heap"
