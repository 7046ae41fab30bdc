#!/usr/bin/env bash
# Benchmark: incremental runs after 1 % of the rows changed, against a full extract of the same table,
# in the same run. Shows the plan of the delta query (it must use the cursor index) and prints the
# times and their ratio (goal: an incremental run under 10 % of the full extract), for two kinds of
# change: 1 % of the rows spread evenly over the table (every 100th row; the worst case, since nearly
# every page holds a changed row), and the most recent 1 % (the common case: new and recent orders
# move); merge mode for both, and append mode for the spread changes. A CHECKPOINT precedes each run,
# so each page a merge touches first writes a full-page image to the WAL: the conservative case.
#
# Usage: tests/benchmark/incremental.sh [rows] [changed-percent]   (default 5000000 rows, 1 %)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser; the scratch databases
#        bench_source and bench_warehouse are created), psql, bc and a JDK 21+ for ./jbang.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_source bench_warehouse

rows=${1:-5000000}
percent=${2:-1}
export SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url"

# Runs a datakit with --json and prints "<wall seconds> <in-process duration_ms>".
run_timed() {
  local start summary
  start=$(seconds)
  summary=$(./jbang --java-options="-Xmx$heap" "$@" --json)
  printf '%s %s\n' "$(since "$start")" "$(duration_ms_of "$summary")"
}
incremental() { run_timed postgres-incremental --table public.orders_inc --cursor-field updated_at "$@"; }
change() {
  psql -qX "$source_url" -c "UPDATE public.orders_inc SET amount = amount + 1, updated_at = now() WHERE $1" -c "ANALYZE public.orders_inc"
  psql -qX "$warehouse_url" -c "CHECKPOINT"
}

say "preparing $rows rows in bench_source.public.orders_inc"
prepare_databases
psql -qX -v ON_ERROR_STOP=1 "$source_url" <<SQL
DROP TABLE IF EXISTS public.orders_inc, public.warm_up;
CREATE TABLE public.orders_inc ($orders_columns, updated_at timestamptz NOT NULL, PRIMARY KEY (id));
INSERT INTO public.orders_inc
SELECT o.*, o.created_at FROM ($(orders_select "$rows" "timestamptz '2024-01-01' + g * interval '1 second'")) o;
CREATE INDEX orders_inc_cursor ON public.orders_inc (updated_at, id);
VACUUM (FREEZE, ANALYZE) public.orders_inc;
CREATE TABLE public.warm_up AS SELECT * FROM public.orders_inc WHERE id <= 1000;
ALTER TABLE public.warm_up ADD PRIMARY KEY (id);
SQL

say "warming up (JBang builds the datakits and their class-data archives on a first run)"
./jbang postgres-extract --table public.warm_up >/dev/null
./jbang postgres-incremental --table public.warm_up --cursor-field updated_at >/dev/null
psql -qX "$warehouse_url" -c "CHECKPOINT"

read -r full_wall full_ms < <(run_timed postgres-extract --table public.orders_inc --target-table orders_inc_full)
say "full extract: ${full_wall} s (in the datakit: ${full_ms} ms)"
read -r first_wall _ < <(incremental)
say "first incremental load (everything): ${first_wall} s"
incremental --mode append --target-table orders_inc_history >/dev/null
say "first incremental load into an append table done"
changed=$(echo "$rows * $percent / 100" | bc)
step=$(echo "100 / $percent" | bc)

change "id % $step = 0"
plan_sql=$(./jbang postgres-incremental --table public.orders_inc --cursor-field updated_at --dry-run --json \
  | sed -n 's/.*"source_sql":"COPY (\(.*\)) TO STDOUT (FORMAT binary)".*/\1/p' | sed 's/\\n/ /g; s/\\"/"/g')
say "plan of the delta query:"
psql -qX "$source_url" -c "SET jit = off" -c "EXPLAIN $plan_sql" >&2
read -r spread_wall spread_ms < <(incremental)
psql -qX "$warehouse_url" -c "CHECKPOINT"
read -r append_wall append_ms < <(incremental --mode append --target-table orders_inc_history)

change "id > $rows - $changed"
read -r recent_wall recent_ms < <(incremental)

same=$(psql -qtAX "$warehouse_url" -c "SELECT count(*) FROM bronze.orders_inc")
[ "$same" = "$rows" ] || { say "bronze.orders_inc has $same rows, expected $rows"; exit 1; }
ratio() { echo "scale=3; $1 / $2" | bc; }
printf 'rows=%s changed=%s (%s %%)\n' "$rows" "$changed" "$percent"
printf '  full extract:                  %6.1f s wall, %6.1f s in the datakit\n' "$full_wall" "$(echo "$full_ms / 1000" | bc -l)"
printf '  merge mode, changes spread:   %6.1f s wall (ratio %s), %6.1f s in the datakit (ratio %s)\n' \
  "$spread_wall" "$(ratio "$spread_wall" "$full_wall")" "$(echo "$spread_ms / 1000" | bc -l)" "$(ratio "$spread_ms" "$full_ms")"
printf '  merge mode, recent changes:   %6.1f s wall (ratio %s), %6.1f s in the datakit (ratio %s)\n' \
  "$recent_wall" "$(ratio "$recent_wall" "$full_wall")" "$(echo "$recent_ms / 1000" | bc -l)" "$(ratio "$recent_ms" "$full_ms")"
printf '  append mode, changes spread:   %6.1f s wall (ratio %s), %6.1f s in the datakit (ratio %s)\n' \
  "$append_wall" "$(ratio "$append_wall" "$full_wall")" "$(echo "$append_ms / 1000" | bc -l)" "$(ratio "$append_ms" "$full_ms")"
