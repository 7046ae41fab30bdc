#!/usr/bin/env bash
# Benchmark: what a scheduled run costs when it finds little or nothing to do, through the documented
# launcher (./jbang <alias>, its fast start and class cache warm), the datakit's heap capped. Each figure is the
# median of <runs> runs, wall-clock and CPU (user + system) seconds of the whole process tree:
#   1. psql asking the source the no-op run's question (is there a row past the checkpoint?);
#   2. postgres-incremental with nothing new, and its ratio to 1;
#   3. postgres-cdc (a bounded run) with nothing new;
#   4. <small> single-row transactions drained by pg_recvlogical and by postgres-cdc from two slots made at
#      the same position, and the ratio of their rates (pg_recvlogical's time / the datakit's).
#
# Usage: tests/benchmark/startup.sh [runs] [small]      (default 5 runs, 50000 transactions)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser on a server with
#        wal_level=logical; the scratch databases bench_start_source and bench_start_warehouse are
#        created), psql, pg_recvlogical, GNU time, bc and a JDK 21+ for ./jbang.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_start_source bench_start_warehouse

runs=${1:-5}
small=${2:-50000}
export SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url"
for tool in pg_recvlogical /usr/bin/time; do
  command -v "$tool" >/dev/null || { say "ERROR: the benchmark needs $tool"; exit 2; }
done
sql() { psql -qtAX -v ON_ERROR_STOP=1 "$source_url" "$@"; }
kit() { ./jbang --java-options="-Xmx$heap" "$@"; }

# Runs a command <runs> times and prints "wall cpu" medians: measure <command...>
measure() {
  local walls=() cpus=() line
  for _ in $(seq 1 "$runs"); do
    line=$(/usr/bin/time -f '%e %U %S' "$@" 2>&1 >/dev/null | tail -1)
    read -r wall user system <<<"$line"
    walls+=("$wall"); cpus+=("$(echo "$user + $system" | bc)")
  done
  printf '%s %s\n' "$(median "${walls[@]}")" "$(median "${cpus[@]}")"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

drop_slots() {
  for _ in $(seq 1 100); do
    [ "$(sql -c "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE 'bench_start%'")" = 0 ] && break
    sleep 0.1
  done
  sql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'bench_start%'" >/dev/null
}
trap drop_slots EXIT

say "preparing bench_start_source.public.orders (10,000 rows) and a first load of each datakit"
prepare_databases
prepare_orders 10000
sql <<SQL
DROP PUBLICATION IF EXISTS bench_start_pub;
CREATE PUBLICATION bench_start_pub FOR TABLE public.orders;
CREATE OR REPLACE PROCEDURE public.bench_small(n int) LANGUAGE plpgsql AS \$body\$
BEGIN
  FOR i IN 1..n LOOP
    UPDATE public.orders SET amount = amount + 1 WHERE id = 1 + i % 10000;
    COMMIT;
  END LOOP;
END \$body\$;
SQL
drop_slots
# Twice each: ./jbang records JBang's command on the first run, and assembles its class cache on the next.
for _ in 1 2; do
  kit postgres-incremental --table public.orders --cursor-field created_at >/dev/null
  kit postgres-cdc --slot bench_start_kit --publication bench_start_pub --table public.orders --snapshot never >/dev/null
done
checkpoint=$(psql -qtAX "$warehouse_url" -c "SELECT cursor_value->>'value' FROM bronze.extraction_checkpoints WHERE stream = 'bronze.orders'")

read -r psql_wall psql_cpu < <(measure psql -qtAX "$source_url" \
  -c "SELECT EXISTS (SELECT 1 FROM public.orders WHERE created_at > '$checkpoint')")
read -r inc_wall inc_cpu < <(measure ./jbang --java-options="-Xmx$heap" postgres-incremental --table public.orders --cursor-field created_at)
read -r cdc_wall cdc_cpu < <(measure ./jbang --java-options="-Xmx$heap" postgres-cdc --slot bench_start_kit \
  --publication bench_start_pub --table public.orders --snapshot never)

# The small-transaction workload: both slots at one position, then <small> commits, then each drains them.
drains=(); kits=()
for _ in $(seq 1 "$runs"); do
  drop_slots
  sql -c "SELECT pg_create_logical_replication_slot('bench_start_drain', 'pgoutput')" \
      -c "SELECT pg_create_logical_replication_slot('bench_start_kit', 'pgoutput')" >/dev/null
  # A new slot starts past the stream's checkpoint: the stream starts anew with it.
  psql -qtAX "$warehouse_url" -c "DELETE FROM bronze.extraction_checkpoints WHERE stream LIKE 'cdc:%'" \
    -c "DROP TABLE IF EXISTS bronze.orders__changes" >/dev/null
  sql -c "CALL public.bench_small($small)"
  end=$(sql -c "SELECT pg_current_wal_lsn()")
  start=$(seconds)
  pg_recvlogical -d "$source_url" --slot bench_start_drain --start --endpos "$end" --no-loop -f /dev/null \
    -o proto_version=1 -o publication_names=bench_start_pub
  drains+=("$(since "$start")")
  start=$(seconds)
  landed=$(kit postgres-cdc --slot bench_start_kit --publication bench_start_pub --table public.orders --snapshot never --json | sed -n 's/.*"rows":\([0-9]*\).*/\1/p')
  kits+=("$(since "$start")")
  [ "$landed" = "$small" ] || { say "postgres-cdc landed $landed changes, expected $small"; exit 1; }
done
drain=$(median "${drains[@]}"); small_kit=$(median "${kits[@]}")

printf 'medians of %s runs, heap cap %s (wall s / cpu s)\n' "$runs" "$heap"
printf '  psql, the no-op question           %6.2f / %5.2f\n' "$psql_wall" "$psql_cpu"
printf '  postgres-incremental, nothing new  %6.2f / %5.2f   %.1f x psql\n' "$inc_wall" "$inc_cpu" "$(echo "$inc_wall / $psql_wall" | bc -l)"
printf '  postgres-cdc, nothing new          %6.2f / %5.2f\n' "$cdc_wall" "$cdc_cpu"
printf '  %s single-row transactions: pg_recvlogical %.2f s, postgres-cdc %.2f s, ratio %.2f\n' "$small" "$drain" "$small_kit" \
  "$(echo "$drain / $small_kit" | bc -l)"
