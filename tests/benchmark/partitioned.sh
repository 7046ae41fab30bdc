#!/usr/bin/env bash
# Benchmark: postgres-partitioned --parallelism 2 against raw psql binary COPY pipes, in the same run,
# on an orders-like table (bigint, text, numeric, timestamptz, text[], jsonb) range-partitioned into 12
# monthly partitions:
#   one pipe   psql -c "COPY (SELECT * FROM events) TO STDOUT (FORMAT binary)" | psql -c "COPY ... FROM STDIN (FORMAT binary)"
#   two pipes  the same for partitions 1-6 and 7-12, running at once, each into a table of its own
# Prints the three throughputs and the datakit's ratio to the two-pipe figure (goal: >= 0.85).
#
# Usage: tests/benchmark/partitioned.sh [rows] [rounds]     (default 5000000 rows, 2 rounds)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser on a server that may
#        get two scratch databases, bench_parts_source and bench_parts_warehouse), psql, bc, and a JDK 21+
#        for ./jbang. BENCH_HEAP (default 256m) caps the datakit's heap.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_parts_source bench_parts_warehouse

rows=${1:-5000000}
rounds=${2:-2}
months() { for m in $(seq "$1" "$2"); do printf 'public.events_%02d ' "$m"; done; }
union_of() { local sql=""; for t in "$@"; do sql="${sql:+$sql UNION ALL }SELECT * FROM $t"; done; printf '%s' "$sql"; }

say "preparing $rows orders-like rows in 12 monthly partitions of bench_parts_source (kept between runs of the same size)"
prepare_databases
if [ "$(source_rows public.events)" != "$rows" ]; then
  {
    echo "DROP TABLE IF EXISTS public.events;"
    echo "CREATE TABLE public.events ($orders_columns) PARTITION BY RANGE (created_at);"
    for m in $(seq 1 12); do
      printf "CREATE TABLE public.events_%02d PARTITION OF public.events FOR VALUES FROM ('2024-%02d-01') TO ('%s');\n" \
        "$m" "$m" "$([ "$m" = 12 ] && echo 2025-01-01 || printf '2024-%02d-01' $((m + 1)))"
    done
    cat <<SQL
INSERT INTO public.events
$(orders_select "$rows" "timestamptz '2024-01-01 00:00:00+00' + (g - 1) * (interval '366 days' / $rows)");
VACUUM (FREEZE, ANALYZE) public.events;
SQL
  } | psql -qX -v ON_ERROR_STOP=1 "$source_url"
fi
size=$(psql -qtAX "$source_url" -c "SELECT pg_size_pretty(sum(pg_table_size(relid))) FROM pg_partition_tree('public.events')")
say "source table: $rows rows in 12 partitions, $size"
for t in pipe pipe_a pipe_b; do psql -qX "$warehouse_url" -c "CREATE TABLE public.events_$t ($orders_columns)"; done

pipe() { # pipe <target table> <partitions...>
  local target=$1; shift
  psql -qX "$source_url" -c "COPY ($(union_of "$@")) TO STDOUT (FORMAT binary)" \
    | psql -qX "$warehouse_url" -c "COPY public.$target FROM STDIN (FORMAT binary)"
}

one_best=""; two_best=""; kit_best=""; inside_best=""; peak_heap=""
# Untimed, after each load: vacuum what it wrote and checkpoint, so autovacuum and the checkpointer
# do not run during the next measurement.
# Each load starts on empty tables: the pipes' tables are truncated and the previous round's bronze
# copy dropped, untimed (dropping 12 tables of a 5-million-row load costs about 0.2 s of file removal).
settle() { psql -qX "$warehouse_url" -c "VACUUM ANALYZE" -c "CHECKPOINT"; }
for round in $(seq 1 "$rounds"); do
  psql -qX "$warehouse_url" -c "SET client_min_messages = warning" -c "TRUNCATE public.events_pipe, public.events_pipe_a, public.events_pipe_b" \
    -c "DROP TABLE IF EXISTS bronze.events" -c "CHECKPOINT"
  start=$(seconds)
  pipe events_pipe public.events
  one=$(since "$start")
  settle

  start=$(seconds)
  pipe events_pipe_a $(months 1 6) &
  pipe events_pipe_b $(months 7 12) &
  wait
  two=$(since "$start")
  settle

  start=$(seconds)
  summary=$(SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url" \
    ./jbang --java-options="-Xmx$heap" postgres-partitioned --table public.events --parallelism 2 --full --json)
  kit=$(since "$start")
  settle
  peak_heap=$(peak_heap_of "$summary")
  inside=$(echo "scale=3; $(duration_ms_of "$summary") / 1000" | bc)
  loaded=$(psql -qtAX "$warehouse_url" -c "SELECT count(*) FROM bronze.events")
  [ "$loaded" = "$rows" ] || { say "bronze.events has $loaded rows, expected $rows"; exit 1; }
  say "round $round: one pipe $(printf '%.1f' "$one") s, two pipes $(printf '%.1f' "$two") s, postgres-partitioned --parallelism 2 $(printf '%.1f' "$kit") s, $(printf '%.1f' "$inside") s of it loading (peak heap $((peak_heap / 1048576)) MiB)"
  one_best=$(best "$one_best" "$one"); two_best=$(best "$two_best" "$two"); kit_best=$(best "$kit_best" "$kit")
  inside_best=$(best "$inside_best" "$inside")
done

rate() { echo "$rows / $1" | bc; }
# The ratio compares wall times, start-up of JBang and the JVM included; "run" is the load's duration as
# the summary reports it (from joining the load to publishing it: start-up, connecting and planning
# excluded), compared the same way.
printf 'rows=%s  one_pipe=%.1fs (%s rows/s)  two_pipes=%.1fs (%s rows/s)  postgres-partitioned=%.1fs (%s rows/s)  ratio_to_two_pipes=%s  run=%.1fs run_ratio=%s  peak_heap=%sMiB\n' \
  "$rows" "$one_best" "$(rate "$one_best")" "$two_best" "$(rate "$two_best")" "$kit_best" "$(rate "$kit_best")" \
  "$(echo "scale=3; $two_best / $kit_best" | bc)" "$inside_best" "$(echo "scale=3; $two_best / $inside_best" | bc)" "$((peak_heap / 1048576))"
