#!/usr/bin/env bash
# Benchmark: a whole schema in one command. postgres-extract --schema shop --parallelism 2 against what a
# DBA would otherwise run, in the same run, on a schema of 20 orders-like tables (bigint, text, numeric,
# timestamptz, text[], jsonb; a primary key on id) of mixed sizes: one of 40% of the rows, two of 16%, three
# of 6%, four of 2% and ten of 0.2%. The contenders, each on an emptied warehouse after a CHECKPOINT:
#   1. sequential pipes  one psql binary COPY pipe per table, one after the other,
#        psql -c "COPY shop.t TO STDOUT (FORMAT binary)" | psql -c "COPY pipe.t FROM STDIN (FORMAT binary)"
#      into tables of a schema `pipe` created beforehand (untimed, without primary keys, as full-extract.sh);
#   2. parallel pipes    the same pipes two at a time, largest tables first;
#   3. dump + restore    pg_dump -Fd -j 2 -n shop into a temporary folder, then pg_restore -j 2 into the
#      warehouse, timed together; pg_restore also builds the 20 primary keys. Printed beside it, not
#      compared: the data-only variant (pg_dump/pg_restore --data-only into tables created beforehand);
#   4. the datakit       postgres-extract --schema shop --parallelism N --json (N from BENCH_PARALLELISM,
#      default 2, one run per value), its heap capped; every bronze.<t> must hold as many rows as shop.<t>.
# Prints one line per round, then one line of the best times, their ratios to the datakit at the first
# parallelism (> 1: the datakit is faster), the datakit's peak heap and the heap cap.
#
# Usage: tests/benchmark/schema.sh [total_rows] [rounds]     (default 5000000 rows, 2 rounds)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser on a server that may
#        get two scratch databases, bench_schema_source and bench_schema_warehouse), psql, pg_dump and
#        pg_restore (taken from the newest /usr/lib/postgresql/*/bin when not on PATH; not older than the
#        server), bc, and a JDK 21+ for ./jbang. BENCH_HEAP (default 256m) caps the datakit's heap;
#        BENCH_PARALLELISM (default "2"; e.g. "2 4") lists the datakit's parallelisms to run;
#        BENCH_SKIP_KIT=1 leaves out the datakit (contenders 1-3 only, no ratios).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh" bench_schema_source bench_schema_warehouse

total=${1:-5000000}
rounds=${2:-2}
read -r -a parallelisms <<<"${BENCH_PARALLELISM:-2}"
skip_kit=${BENCH_SKIP_KIT:-}

# Debian/Ubuntu put pg_dump and pg_restore on PATH only with postgresql-client-common's wrapper.
if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
  newest=$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$newest" ]; then PATH="$newest:$PATH"; fi
fi
for tool in pg_dump pg_restore; do
  command -v "$tool" >/dev/null || { say "ERROR: the benchmark needs $tool (apt-get install postgresql-client)"; exit 2; }
done

# The schema, largest table first (the order the parallel pipes take them in). Shares in tenths of a percent
# of the total; they add up to 1000, and the last table takes what the rounding left over.
tables=(order_lines
        orders payments
        shipments invoices cart_items
        customers addresses reviews returns
        products categories suppliers warehouses stores employees coupons promotions carriers currencies)
shares=(400 160 160 60 60 60 20 20 20 20 2 2 2 2 2 2 2 2 2 2)
sizes=(); planned=0
for i in "${!tables[@]}"; do
  if [ "$i" -lt $((${#tables[@]} - 1)) ]; then sizes+=($((total * shares[i] / 1000))); else sizes+=($((total - planned))); fi
  planned=$((planned + sizes[i]))
done
# "table=rows" per line, sorted, as counts_of prints what a load left.
expected=$(for i in "${!tables[@]}"; do echo "${tables[i]}=${sizes[i]}"; done | sort)

# Row counts of the 20 tables in a schema of a database, in one query, as sorted "table=rows" lines (UNION ALL
# keeps no order): counts_of <database url> <schema>
counts_of() {
  local sql="" t
  for t in "${tables[@]}"; do sql="${sql:+$sql UNION ALL }SELECT '$t=' || count(*) FROM $2.$t"; done
  psql -qtAX -v ON_ERROR_STOP=1 "$1" -c "$sql" | sort
}
check_counts() { # check_counts <database url> <schema> <what loaded it>
  local got
  got=$(counts_of "$1" "$2") || { say "ERROR: after $3 a table of $2 cannot be counted (above)"; exit 1; }
  [ "$got" = "$expected" ] || { say "ERROR: after $3 the tables of $2 hold"; diff <(echo "$expected") <(echo "$got") >&2; exit 1; }
}

# The source is kept between runs of the same size: the schema's comment records the size, and is written
# last, so a load that was interrupted is done again.
marker="bench_schema $total rows"
prepare_shop() {
  {
    echo "SET client_min_messages = warning;"
    echo "DROP SCHEMA IF EXISTS shop CASCADE;"
    echo "CREATE SCHEMA shop;"
    for i in "${!tables[@]}"; do
      echo "CREATE TABLE shop.${tables[i]} ($orders_columns, PRIMARY KEY (id));"
      echo "INSERT INTO shop.${tables[i]}"
      orders_select "${sizes[i]}" "timestamptz '2024-01-01' + g * interval '1 second'"
      echo ";"
    done
    # Frozen and analyzed, so that no read of a contender sets hint bits or waits on autovacuum.
    echo "VACUUM (FREEZE, ANALYZE);"
    echo "COMMENT ON SCHEMA shop IS '$marker';"
  } | psql -qX -v ON_ERROR_STOP=1 "$source_url"
}

say "preparing $total orders-like rows in 20 tables of bench_schema_source.shop (kept between runs of the same size)"
prepare_databases
if [ "$(psql -qtAX "$source_url" -c "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'shop'")" != "$marker" ]; then
  prepare_shop
fi
check_counts "$source_url" shop "preparing the source"
size=$(psql -qtAX "$source_url" -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'shop' AND c.relkind = 'r'")
say "source schema: $total rows in ${#tables[@]} tables (largest ${sizes[0]}, smallest ${sizes[-1]}), $size with primary keys"

dump_dir=$(mktemp -d)
trap 'rm -rf "$dump_dir"' EXIT

# Before each contender, untimed: the warehouse holds nothing any contender loaded (so neither autovacuum nor
# the checkpointer works on an earlier load during a measurement); <schema> gets the 20 tables without
# primary keys when given, for the loads that need them to exist: empty_warehouse [schema]
empty_warehouse() {
  local t
  {
    echo "SET client_min_messages = warning;"
    echo "DROP SCHEMA IF EXISTS pipe CASCADE;"
    echo "DROP SCHEMA IF EXISTS shop CASCADE;"
    # bronze keeps the datakit's bookkeeping tables (a scheduled run finds them); only the loaded tables go.
    for t in "${tables[@]}"; do echo "DROP TABLE IF EXISTS bronze.$t;"; done
    if [ $# = 1 ]; then
      echo "CREATE SCHEMA $1;"
      for t in "${tables[@]}"; do echo "CREATE TABLE $1.$t ($orders_columns);"; done
    fi
    echo "CHECKPOINT;"
  } | psql -qX -v ON_ERROR_STOP=1 "$warehouse_url"
  rm -rf "${dump_dir:?}/shop"
}

pipe() { # pipe <table>
  psql -qX "$source_url" -c "COPY shop.$1 TO STDOUT (FORMAT binary)" \
    | psql -qX "$warehouse_url" -c "COPY pipe.$1 FROM STDIN (FORMAT binary)"
}
export -f pipe
export source_url warehouse_url

# The datakit at one parallelism; its stderr is shown only when it fails: kit_run <parallelism>
kit_run() {
  local err; err="$dump_dir/kit.err"
  if ! summary=$(SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url" \
      ./jbang --java-options="-Xmx$heap" postgres-extract --schema shop --parallelism "$1" --json 2>"$err"); then
    say "ERROR: postgres-extract --schema shop --parallelism $1 failed:"
    cat "$err" >&2
    exit 1
  fi
}
# The largest peak_heap_bytes of a summary (a summary of several tables may report one per table).
peak_heap_max() { printf '%s' "$1" | grep -o '"peak_heap_bytes": *[0-9]*' | grep -o '[0-9]*$' | sort -n | tail -1; }
mib() { echo $(($1 / 1048576)); }

seq_best=""; par_best=""; dump_best=""; data_best=""; peak_heap=0
declare -A kit_best=()
for round in $(seq 1 "$rounds"); do
  empty_warehouse pipe
  start=$(seconds)
  for t in "${tables[@]}"; do pipe "$t"; done
  sequential=$(since "$start")
  check_counts "$warehouse_url" pipe "the sequential pipes"

  empty_warehouse pipe
  start=$(seconds)
  # xargs keeps two pipes running, each taking the next table as one ends; it fails if any pipe failed.
  # shellcheck disable=SC2016 # $1 is the child shell's: the table xargs hands it
  printf '%s\n' "${tables[@]}" | xargs -P 2 -I '{}' bash -c 'set -o pipefail; pipe "$1"' _ '{}'
  parallel=$(since "$start")
  check_counts "$warehouse_url" pipe "the parallel pipes"

  empty_warehouse
  start=$(seconds)
  pg_dump -Fd -j 2 -n shop -f "$dump_dir/shop" "$source_url"
  pg_restore -j 2 -d "$warehouse_url" "$dump_dir/shop"
  dump=$(since "$start")
  check_counts "$warehouse_url" shop "pg_dump and pg_restore"

  empty_warehouse shop
  start=$(seconds)
  pg_dump -Fd -j 2 -n shop --data-only -f "$dump_dir/shop" "$source_url"
  pg_restore -j 2 --data-only -d "$warehouse_url" "$dump_dir/shop"
  data=$(since "$start")
  check_counts "$warehouse_url" shop "pg_dump and pg_restore --data-only"

  line="round $round: sequential pipes $(printf '%.1f' "$sequential") s, parallel pipes $(printf '%.1f' "$parallel") s"
  line="$line, dump + restore $(printf '%.1f' "$dump") s (data only $(printf '%.1f' "$data") s)"
  if [ -z "$skip_kit" ]; then
    # Round 1 may include JBang building the script and the datakit creating its bookkeeping tables; the
    # best of the rounds leaves them out.
    for p in "${parallelisms[@]}"; do
      empty_warehouse
      start=$(seconds)
      kit_run "$p"
      kit=$(since "$start")
      check_counts "$warehouse_url" bronze "postgres-extract --schema shop --parallelism $p"
      heap_of_run=$(peak_heap_max "$summary")
      if [ -n "$heap_of_run" ] && [ "$heap_of_run" -gt "$peak_heap" ]; then peak_heap=$heap_of_run; fi
      line="$line, postgres-extract --parallelism $p $(printf '%.1f' "$kit") s (peak heap $(mib "${heap_of_run:-0}") MiB)"
      kit_best[$p]=$(best "${kit_best[$p]:-}" "$kit")
    done
  fi
  say "$line"
  seq_best=$(best "$seq_best" "$sequential"); par_best=$(best "$par_best" "$parallel")
  dump_best=$(best "$dump_best" "$dump"); data_best=$(best "$data_best" "$data")
done
empty_warehouse

# Wall times, start-up of JBang and the JVM included; dump + restore includes building the primary keys,
# which neither the pipes nor the datakit do. Ratios are to the datakit at the first parallelism.
figures=$(printf 'rows=%s  sequential_pipes=%.1fs  parallel_pipes=%.1fs  dump_restore=%.1fs (with primary keys; data_only=%.1fs)' \
  "$total" "$seq_best" "$par_best" "$dump_best" "$data_best")
if [ -z "$skip_kit" ]; then
  for p in "${parallelisms[@]}"; do figures="$figures  kit_p$p=$(printf '%.1f' "${kit_best[$p]}")s"; done
  kit_ref=${kit_best[${parallelisms[0]}]}
  ratio() { echo "scale=3; $1 / $kit_ref" | bc; }
  printf '%s  sequential_pipes/kit=%s  parallel_pipes/kit=%s  dump_restore/kit=%s  peak_heap=%sMiB  heap_cap=%s\n' \
    "$figures" "$(ratio "$seq_best")" "$(ratio "$par_best")" "$(ratio "$dump_best")" "$(mib "$peak_heap")" "$heap"
else
  printf '%s  kit=skipped (BENCH_SKIP_KIT)  heap_cap=%s\n' "$figures" "$heap"
fi
