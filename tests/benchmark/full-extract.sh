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
cd "$(dirname "$0")/../.."

rows=${1:-5000000}
rounds=${2:-2}
heap=${BENCH_HEAP:-256m}
admin=${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL to postgresql://user:pass@host:port/postgres}
base=${admin%/*}
source_url="$base/bench_source"
warehouse_url="$base/bench_warehouse"

say() { printf '%s\n' "$*" >&2; }
for tool in psql bc; do
  command -v "$tool" >/dev/null || { say "ERROR: the benchmark needs $tool (apt-get install postgresql-client bc)"; exit 2; }
done
seconds() { date +%s.%N; }

say "preparing $rows orders-like rows in bench_source (kept between runs of the same size)"
psql -qX "$admin" -c "CREATE DATABASE bench_source" 2>/dev/null || true
psql -qX "$admin" -c "DROP DATABASE IF EXISTS bench_warehouse" -c "CREATE DATABASE bench_warehouse"
have=-1
if [ "$(psql -qtAX "$source_url" -c "SELECT to_regclass('public.orders') IS NOT NULL")" = t ]; then
  have=$(psql -qtAX "$source_url" -c "SELECT count(*) FROM public.orders")
fi
if [ "$have" != "$rows" ]; then
  psql -qX "$source_url" <<SQL
DROP TABLE IF EXISTS public.orders;
CREATE TABLE public.orders (
    id bigint PRIMARY KEY, customer text, amount numeric(12,2), created_at timestamptz, tags text[], payload jsonb);
INSERT INTO public.orders
SELECT g, 'customer-' || (g % 100000), round((g % 100000) * 1.37, 2), timestamptz '2024-01-01' + g * interval '1 second',
       ARRAY['tag-' || (g % 7), 'tag-' || (g % 11)],
       jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', g % 9, 'channel', (ARRAY['web', 'app', 'store'])[1 + g % 3])
FROM generate_series(1, $rows) g;
VACUUM (FREEZE, ANALYZE) public.orders;
SQL
fi
size=$(psql -qtAX "$source_url" -c "SELECT pg_size_pretty(pg_table_size('public.orders'))")
say "source table: $rows rows, $size"
psql -qX "$warehouse_url" -c "CREATE TABLE public.orders_pipe (
    id bigint, customer text, amount numeric(12,2), created_at timestamptz, tags text[], payload jsonb)"

pipe_best=""
kit_best=""
peak_heap=""
for round in $(seq 1 "$rounds"); do
  psql -qX "$warehouse_url" -c "TRUNCATE public.orders_pipe" -c "CHECKPOINT"
  start=$(seconds)
  psql -qX "$source_url" -c "COPY public.orders TO STDOUT (FORMAT binary)" \
    | psql -qX "$warehouse_url" -c "COPY public.orders_pipe FROM STDIN (FORMAT binary)"
  pipe=$(echo "$(seconds) - $start" | bc)
  psql -qX "$warehouse_url" -c "CHECKPOINT"

  start=$(seconds)
  summary=$(SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url" \
    ./jbang --java-options="-Xmx$heap" postgres-extract --table public.orders --json)
  kit=$(echo "$(seconds) - $start" | bc)
  peak_heap=$(printf '%s' "$summary" | sed -n 's/.*"peak_heap_bytes":\([0-9]*\).*/\1/p')
  loaded=$(psql -qtAX "$warehouse_url" -c "SELECT count(*) FROM bronze.orders")
  [ "$loaded" = "$rows" ] || { say "bronze.orders has $loaded rows, expected $rows"; exit 1; }
  say "round $round: pipe $(printf '%.1f' "$pipe") s, postgres-extract $(printf '%.1f' "$kit") s (heap cap $heap, peak heap $((peak_heap / 1048576)) MiB)"
  if [ -z "$pipe_best" ] || [ "$(echo "$pipe < $pipe_best" | bc)" = 1 ]; then pipe_best=$pipe; fi
  if [ -z "$kit_best" ] || [ "$(echo "$kit < $kit_best" | bc)" = 1 ]; then kit_best=$kit; fi
done

ratio=$(echo "scale=3; $pipe_best / $kit_best" | bc)
printf 'rows=%s  pipe=%.1fs (%.0f rows/s)  postgres-extract=%.1fs (%.0f rows/s)  ratio=%s  peak_heap=%sMiB  heap_cap=%s\n' \
  "$rows" "$pipe_best" "$(echo "$rows / $pipe_best" | bc)" "$kit_best" "$(echo "$rows / $kit_best" | bc)" "$ratio" \
  "$((peak_heap / 1048576))" "$heap"
