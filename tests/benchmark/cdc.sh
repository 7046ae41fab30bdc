#!/usr/bin/env bash
# Benchmark: postgres-cdc against pg_recvlogical, which drains the same WAL with pgoutput to /dev/null
# (the server's decoding limit), in the same run. Two slots are made at the same position before each
# workload; pg_recvlogical drains one, the datakit the other (a bounded run, JBang and JVM start-up
# included), and the ratio of their change rates is printed:
#   1. bulk: one transaction inserting <rows> rows, one updating all of them, one deleting all, with
#      protocol version 2 streaming (--streaming on) and without (the server spills to its disk);
#   2. <small> single-row transactions;
#   3. a steady <rate> transactions/s for <seconds> s (pgbench) into a --follow run: end-to-end lag from
#      the source commit to the warehouse commit (a deferred trigger on the change table notes the
#      time of each row's commit), p50, p99 and max.
# Peak resident memory of the datakit is printed for each.
#
# Usage: tests/benchmark/cdc.sh [rows] [small] [rate] [seconds]   (default 1000000 100000 2000 30; rows 0 skips the bulk runs)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser on a server with
#        wal_level=logical; the scratch databases bench_cdc_source and bench_cdc_warehouse are created),
#        psql, pg_recvlogical, pgbench, GNU time, bc and a JDK 21+ (JAVA_HOME) for ./jbang and the exported jar.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_cdc_source bench_cdc_warehouse

rows=${1:-1000000}
small=${2:-100000}
rate=${3:-2000}
duration=${4:-30}
export SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url"
for tool in pg_recvlogical pgbench /usr/bin/time; do
  command -v "$tool" >/dev/null || { say "ERROR: the benchmark needs $tool"; exit 2; }
done

sql() { psql -qtAX -v ON_ERROR_STOP=1 "$source_url" "$@"; }
wsql() { psql -qtAX -v ON_ERROR_STOP=1 "$warehouse_url" "$@"; }
drop_slots() {
  # A reader's walsender ends a moment after the reader: wait until no one holds the slots.
  for _ in $(seq 1 100); do
    [ "$(sql -c "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name IN ('bench_drain', 'bench_kit')")" = 0 ] && break
    sleep 0.1
  done
  sql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_drain', 'bench_kit')" >/dev/null
}
trap drop_slots EXIT

# Both slots at the current position, and an empty bronze schema.
new_slots() {
  drop_slots
  sql -c "SELECT pg_create_logical_replication_slot('bench_drain', 'pgoutput')" \
      -c "SELECT pg_create_logical_replication_slot('bench_kit', 'pgoutput')" >/dev/null
  wsql -c "DROP SCHEMA IF EXISTS bronze CASCADE" 2>/dev/null
}

# pg_recvlogical drains bench_drain up to the current WAL position: drain <streaming on|off> -> seconds
drain() {
  local end start options=(-o publication_names=bench_pub)
  if [ "$1" = on ]; then options+=(-o proto_version=2 -o streaming=on); else options+=(-o proto_version=1); fi
  end=$(sql -c "SELECT pg_current_wal_lsn()")
  start=$(seconds)
  pg_recvlogical -d "$source_url" --slot bench_drain --start --endpos "$end" --no-loop -f /dev/null "${options[@]}"
  since "$start"
}

# The datakit reads bench_kit up to the WAL position it starts at: kit <streaming on|off> -> "seconds changes peak-rss-kib"
kit() {
  local start summary
  start=$(seconds)
  summary=$(/usr/bin/time -f '%M' -o /tmp/cdc-bench-rss ./jbang --java-options="-Xmx$heap" postgres-cdc --slot bench_kit \
    --publication bench_pub --table public.cdc_bench --snapshot never --streaming "$1" --json)
  printf '%s %s %s\n' "$(since "$start")" "$(printf '%s' "$summary" | sed -n 's/.*"rows":\([0-9]*\).*/\1/p')" "$(tail -1 /tmp/cdc-bench-rss)"
}

# The same from the jar `jbang export portable` writes, without JBang's per-run resolution (half a second).
export_dir=/tmp/cdc-bench-export
kit_jar() {
  local start summary
  start=$(seconds)
  summary=$(/usr/bin/time -f '%M' -o /tmp/cdc-bench-rss "${JAVA_HOME:+$JAVA_HOME/bin/}java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx"$heap" \
    -XX:SharedArchiveFile="$export_dir/cdc.jsa" -XX:+AutoCreateSharedArchive -Xlog:cds=off -Xlog:cds+dynamic=off \
    -jar "$export_dir/PostgresCdc.jar" --slot bench_kit --publication bench_pub --table public.cdc_bench --snapshot never \
    --streaming "$1" --json)
  printf '%s %s %s\n' "$(since "$start")" "$(printf '%s' "$summary" | sed -n 's/.*"rows":\([0-9]*\).*/\1/p')" "$(tail -1 /tmp/cdc-bench-rss)"
}

# Compares both on the WAL of the workload just run: compare <label> <changes> <streaming> [kit|kit_jar]
compare() {
  local drained wall changes rss
  drained=$(drain "$3")
  read -r wall changes rss < <("${4:-kit}" "$3")
  [ "$changes" = "$2" ] || { say "the datakit landed $changes changes, expected $2"; exit 1; }
  printf '%-34s drain %7.2f s (%8.0f changes/s)   datakit %7.2f s (%8.0f changes/s)   ratio %.2f   peak RSS %d MiB\n' \
    "$1" "$drained" "$(echo "$2 / $drained" | bc -l)" "$wall" "$(echo "$2 / $wall" | bc -l)" "$(echo "$drained / $wall" | bc -l)" \
    "$((rss / 1024))"
}

say "preparing bench_cdc_source.public.cdc_bench"
prepare_databases
sql <<SQL
DROP PUBLICATION IF EXISTS bench_pub;
DROP TABLE IF EXISTS public.cdc_bench;
DROP SEQUENCE IF EXISTS public.bench_ids;
CREATE TABLE public.cdc_bench ($orders_columns, PRIMARY KEY (id));
CREATE SEQUENCE public.bench_ids;
CREATE PUBLICATION bench_pub FOR TABLE public.cdc_bench;
CREATE OR REPLACE PROCEDURE public.bench_small(n int) LANGUAGE plpgsql AS \$body\$
BEGIN
  FOR i IN 1..n LOOP
    INSERT INTO public.cdc_bench SELECT o.* FROM ($(orders_select 1 "now()" | sed 's/SELECT g AS id/SELECT nextval($$public.bench_ids$$) AS id/')) o;
    COMMIT;
  END LOOP;
END \$body\$;
SQL
say "warming up (JBang builds the datakit on a first run, ./jbang assembles its class cache on the next)"
for _ in 1 2; do
  new_slots
  sql -c "INSERT INTO public.cdc_bench SELECT * FROM ($(orders_select 10 "now()")) o" -c "TRUNCATE public.cdc_bench"
  kit on >/dev/null
done
rm -rf "$export_dir" && mkdir -p "$export_dir"
./jbang export portable --force -O "$export_dir/PostgresCdc.jar" datakits/PostgresCdc.java >/dev/null 2>&1
new_slots
kit_jar on >/dev/null

for streaming in on off; do
  [ "$rows" -gt 0 ] || break
  new_slots
  say "bulk, --streaming $streaming: insert, update and delete of $rows rows, a transaction each"
  sql -c "INSERT INTO public.cdc_bench $(orders_select "$rows" "now()")" \
      -c "UPDATE public.cdc_bench SET amount = amount + 1" \
      -c "DELETE FROM public.cdc_bench" -c "VACUUM public.cdc_bench"
  compare "bulk, 3 x $rows, --streaming $streaming" "$((3 * rows))" "$streaming"
done

new_slots
say "$small single-row transactions"
sql -c "SET synchronous_commit = off" -c "CALL public.bench_small($small)" -c "TRUNCATE public.cdc_bench"
compare "$small single-row transactions" "$((small + 1))" on
new_slots
sql -c "SET synchronous_commit = off" -c "CALL public.bench_small($small)" -c "TRUNCATE public.cdc_bench"
compare "$small single-row tx, exported jar" "$((small + 1))" on kit_jar

say "a steady $rate transactions/s for $duration s into a --follow run"
new_slots
/usr/bin/time -f '%M' -o /tmp/cdc-bench-follow-rss ./jbang --java-options="-Xmx$heap" postgres-cdc --slot bench_kit \
  --publication bench_pub --table public.cdc_bench --snapshot never --follow >/dev/null 2>/tmp/cdc-bench-follow.err &
follower=$!
trap 'kill -TERM "$follower" 2>/dev/null || true; pkill -TERM -f "java.*PostgresCdc.*bench_kit" || true; sleep 1; drop_slots' EXIT
sql -c "INSERT INTO public.cdc_bench (id, customer, created_at) VALUES (nextval('public.bench_ids'), 'warm-up', clock_timestamp())"
until [ "$(wsql -c "SELECT to_regclass('bronze.cdc_bench__changes') IS NOT NULL")" = t ]; do sleep 0.1; done
wsql <<'SQL'
CREATE TABLE bronze.bench_seen (id bigint, committed_at timestamptz);
CREATE FUNCTION bronze.bench_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO bronze.bench_seen VALUES (NEW.id, clock_timestamp()); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER bench_note AFTER INSERT ON bronze.cdc_bench__changes DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION bronze.bench_note();
SQL
echo "INSERT INTO public.cdc_bench (id, customer, created_at) VALUES (nextval('public.bench_ids'), 'steady', clock_timestamp());" \
  > /tmp/cdc-bench-steady.sql
pgbench -n -c 4 -j 2 -R "$rate" -T "$duration" -f /tmp/cdc-bench-steady.sql "$source_url" >/tmp/cdc-bench-pgbench.out 2>&1
sent=$(sql -c "SELECT count(*) FROM public.cdc_bench WHERE customer = 'steady'")
for _ in $(seq 1 300); do
  [ "$(wsql -c "SELECT count(*) FROM bronze.bench_seen")" -ge "$sent" ] && break
  sleep 0.1
done
pkill -TERM -f 'java.*PostgresCdc.*bench_kit' || kill -TERM "$follower"
wait "$follower" || true
wsql -c "SELECT format('steady %s tx/s for %s s: %s transactions, lag p50 %s ms, p99 %s ms, max %s ms', $rate, $duration, count(*),
                       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)),
                       round(max(lag)))
         FROM (SELECT extract(epoch FROM s.committed_at - c._cdc_commit_ts) * 1000 AS lag
               FROM bronze.cdc_bench__changes c JOIN bronze.bench_seen s USING (id) WHERE c.customer = 'steady') l"
printf '  peak RSS of the --follow run: %d MiB\n' "$(($(tail -1 /tmp/cdc-bench-follow-rss) / 1024))"
