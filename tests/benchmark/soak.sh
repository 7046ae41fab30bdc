#!/usr/bin/env bash
# Soak: postgres-cdc and postgres-incremental against a steady write load, killed now and then.
# pgbench writes to public.accounts at <rate> transactions/s for <seconds> s: inserts (version 1),
# updates (the next version; some on the newest rows), deletes, and transactions of ten inserts and an
# update. Every write makes a new version, and a trigger on the source notes each one. Meanwhile:
#   - postgres-cdc --apply --follow streams the changes into bronze.accounts__changes and keeps
#     bronze.accounts equal to the source; it is started again whenever it ends;
#   - postgres-incremental (merge, --detect-deletes) loads bronze.accounts_incremental every
#     SOAK_INCREMENTAL_EVERY s (default 5), like a scheduler that never overlaps runs;
#   - every ~<kill-every> s (at random, between half and one and a half times that) one of them, picked
#     at random, gets SIGKILL, as a crash or the OOM killer would: the follower at once, an
#     incremental run at a random moment of its run.
# At the end the load stops, the follower gets SIGTERM, and one bounded CDC run and one incremental
# run finish. Printed: transactions, kills and runs; CDC lag from source commit to warehouse commit
# (p50, p99, max, restarts after kills included); incremental run times and freshness; peak RSS; and
# rows lost, extra and duplicated: bronze.accounts and bronze.accounts_incremental against the source,
# the change table against the trigger's notes.
#
# Usage: tests/benchmark/soak.sh [seconds] [rate] [kill-every]   (default 300 200 20; kill-every 0: no kills)
# Needs: BENCH_DATABASE_URL=postgresql://user:pass@host:port/postgres (a superuser on a server with
#        wal_level=logical; the scratch databases bench_soak_source and bench_soak_warehouse are made
#        again, the slot bench_soak is dropped at the end), psql, pgbench, GNU time, bc, awk and a
#        JDK 21+ (JAVA_HOME) for ./jbang export and the datakits.
# Exits 1 when a row was lost, added or duplicated, or a datakit ended in a way no kill explains; 2 when
# a tool is missing. Logs and the pgbench scripts stay in /tmp/bench-soak, the databases for a look.
set -euo pipefail
source "$(dirname "$0")/common.sh" bench_soak_source bench_soak_warehouse

duration=${1:-300}
rate=${2:-200}
kill_every=${3:-20}
incremental_every=${SOAK_INCREMENTAL_EVERY:-5}
if [ "$kill_every" -gt 0 ]; then kills="a SIGKILL every ~$kill_every s"; else kills="no kills"; fi
slot=bench_soak
# A writer's changed_at is taken before its commit is visible (tens of ms before, under load), so a run
# can checkpoint past a row it did not see yet ("late commits" in docs/postgres-incremental.md; without
# a lookback a 90 s soak left a row stale). Each run reads the last 10 s again.
lookback=PT10S
work=/tmp/bench-soak
export SOURCE_DATABASE_URL="$source_url" WAREHOUSE_DATABASE_URL="$warehouse_url"
command -v pgbench >/dev/null || for dir in /usr/lib/postgresql/*/bin; do PATH=$PATH:$dir; done   # Debian keeps it there
for tool in pgbench /usr/bin/time awk; do
  command -v "$tool" >/dev/null || { say "ERROR: the soak needs $tool"; exit 2; }
done

sql() { psql -qtAX -v ON_ERROR_STOP=1 "$source_url" "$@"; }
wsql() { psql -qtAX -v ON_ERROR_STOP=1 "$warehouse_url" "$@"; }
clock() { now=$((${EPOCHREALTIME/[.,]/} / 1000)); }   # milliseconds, without a fork
random_below() { echo $(((RANDOM * 32768 + RANDOM) % $1)); }

# A killed reader's walsender ends a moment after it: wait until no one holds the slot.
wait_for_slot() {
  for _ in $(seq 1 300); do
    [ "$(psql -qtAX "$admin" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot' AND active")" = 0 ] && return
    sleep 0.1
  done
}
drop_slot() {
  psql -qtAX "$admin" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" >/dev/null
}

# A datakit from the jar exported at start-up (no JBang resolution per run, as for scheduled runs),
# under GNU time for its peak RSS. It execs time, so run it in the background or in ( ): then $! is
# time, and time's only child is the java process a kill must hit. datakit <Class> <rss file> <options...>
datakit() {
  local name=$1 rss=$2
  shift 2
  exec /usr/bin/time -f '%M' -o "$rss" "${JAVA_HOME:+$JAVA_HOME/bin/}java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx"$heap" \
    -XX:SharedArchiveFile="$work/$name.jsa" -XX:+AutoCreateSharedArchive -Xlog:cds=off -Xlog:cds+dynamic=off \
    -jar "$work/$name.jar" "$@"
}
cdc_options=(--table public.accounts --slot "$slot" --apply)
incremental_options=(--table public.accounts --cursor-field changed_at --target-table accounts_incremental
                     --lookback "$lookback" --detect-deletes --json)
signal_datakit() { local java; java=$(pgrep -P "$2") && kill "-$1" "$java"; }   # signal_datakit <signal> <time pid>
running() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
failure() { failures=$((failures + 1)); say "UNEXPECTED: $1"; tail -3 "$2" >&2 || true; }   # failure <what> <log>
die() { say "ERROR: $1"; tail -5 "$2" >&2; exit 1; }

pgbench='' follower='' incremental='' failures=0
cdc_starts=0 cdc_kills=0 cdc_refused=0 runs=0 runs_done=0 runs_killed=0 runs_refused=0
cleanup() {
  local pid
  [ -z "$pgbench" ] || kill -TERM "$pgbench" 2>/dev/null || true
  for pid in $incremental $follower; do signal_datakit TERM "$pid" 2>/dev/null || true; done
  wait || true
  wait_for_slot || true
  drop_slot || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Fresh databases: the source table with its sequence, index and a note of every write (not in the
# publication, so not captured), and in the warehouse a schema for the soak's own tables.
prepare() {
  rm -rf "$work" && mkdir -p "$work"
  drop_slot   # a slot of an interrupted soak would keep its database from being dropped
  psql -qX -v ON_ERROR_STOP=1 "$admin" -c "DROP DATABASE IF EXISTS bench_soak_source WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS bench_soak_warehouse WITH (FORCE)" \
    -c "CREATE DATABASE bench_soak_source" -c "CREATE DATABASE bench_soak_warehouse"
  sql <<'SQL'
CREATE SEQUENCE public.accounts_ids;
CREATE TABLE public.accounts (id bigint PRIMARY KEY, version int NOT NULL, payload text,
                              changed_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX accounts_changed_at ON public.accounts (changed_at, id);
CREATE TABLE public.accounts_writes (op text NOT NULL, id bigint NOT NULL, version int);
CREATE FUNCTION public.note_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN INSERT INTO public.accounts_writes VALUES ('delete', OLD.id, NULL);
  ELSE INSERT INTO public.accounts_writes VALUES (lower(TG_OP), NEW.id, NEW.version); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER note_write AFTER INSERT OR UPDATE OR DELETE ON public.accounts FOR EACH ROW EXECUTE FUNCTION public.note_write();
SQL
  wsql -c "CREATE SCHEMA soak" -c "CREATE TABLE soak.lag (ms double precision)"
  cat >"$work/insert.sql" <<<"INSERT INTO public.accounts (id, version, payload) VALUES (nextval('public.accounts_ids'), 1, md5(random()::text));"
  cat >"$work/update.sql" <<<"UPDATE public.accounts SET version = version + 1, payload = md5(random()::text), changed_at = clock_timestamp()
  WHERE id = (SELECT 1 + (random() * (last_value - 1))::bigint FROM public.accounts_ids);"
  cat >"$work/update_newest.sql" <<<"UPDATE public.accounts SET version = version + 1, payload = md5(random()::text), changed_at = clock_timestamp()
  WHERE id = (SELECT greatest(1, last_value - (random() * 20)::bigint) FROM public.accounts_ids);"
  cat >"$work/delete.sql" <<<"DELETE FROM public.accounts WHERE id = (SELECT 1 + (random() * (last_value - 1))::bigint FROM public.accounts_ids);"
  cat >"$work/batch.sql" <<'SQL'
BEGIN;
INSERT INTO public.accounts (id, version, payload) SELECT nextval('public.accounts_ids'), 1, 'batch' FROM generate_series(1, 10);
UPDATE public.accounts SET version = 2, payload = 'batch, updated', changed_at = clock_timestamp() WHERE id = currval('public.accounts_ids');
COMMIT;
SQL
}

start_follower() {
  wait_for_slot
  datakit PostgresCdc "$work/follower.rss" "${cdc_options[@]}" --follow >>"$work/follower.log" 2>&1 &
  follower=$! follower_signalled=''
  cdc_starts=$((cdc_starts + 1))
}

# Notes how the follower ended. Exit 2 or 3 right after a kill means the killed run's sessions still
# held the slot or the stream's lock: it is simply started again.
reap_follower() {
  local rc=0
  wait "$follower" || rc=$?
  tail -1 "$work/follower.rss" >>"$work/follower.peaks"
  case "$rc/$follower_signalled" in
    137/KILL | 143/TERM | 0/TERM) ;;
    2/ | 3/) cdc_refused=$((cdc_refused + 1)) && sleep 1 ;;
    *) failure "the CDC follower exited $rc" "$work/follower.log" ;;
  esac
  follower=''
}
supervise_follower() { running "$follower" || { reap_follower && start_follower; }; }
# On SIGTERM the follower commits what it has and stops at the next transaction boundary.
stop_follower() {
  if running "$follower"; then
    follower_signalled=TERM
    until signal_datakit TERM "$follower"; do sleep 0.1; done
  fi
  reap_follower
}

start_incremental() {
  datakit PostgresIncremental "$work/incremental.rss" "${incremental_options[@]}" >"$work/incremental.json" 2>>"$work/incremental.log" &
  incremental=$! incremental_started=$now incremental_killed=''
  runs=$((runs + 1))
  # A kill waiting for this run lands somewhere within the time a run takes.
  [ "$victim" != incremental ] || incremental_kill_at=$((now + $(random_below $((last_run_ms + 1)))))
}

# A finished run: its time, and how fresh bronze is at its end (its end minus the newest change loaded).
reap_incremental() {
  local rc=0 newest
  wait "$incremental" || rc=$?
  tail -1 "$work/incremental.rss" >>"$work/incremental.peaks"
  case "$rc/$incremental_killed" in
    0/*) # (a kill that came as the run was exiting missed it)
      runs_done=$((runs_done + 1)) last_run_ms=$((now - incremental_started))
      echo "$last_run_ms" >>"$work/run.ms"
      newest=$(sed -n 's/.*"checkpoint":"changed_at > \([^"]*\) (id [0-9]*)".*/\1/p' "$work/incremental.json")
      [ -z "$newest" ] || echo "$now - $(date -d "$newest" +%s%3N)" | bc >>"$work/freshness.ms" ;;
    137/KILL) runs_killed=$((runs_killed + 1)) ;;
    3/) runs_refused=$((runs_refused + 1)) ;;   # a killed run's session still held the stream's lock
    *) failure "an incremental run exited $rc" "$work/incremental.log" ;;
  esac
  incremental=''
}

schedule_incremental() {
  if [ -n "$incremental" ]; then
    running "$incremental" || reap_incremental
  elif [ "$now" -ge "$next_run" ]; then
    next_run=$((now + incremental_every * 1000))
    start_incremental
  fi
}

# When a kill is due, picks its victim; kills it as soon as it runs (an incremental run at its moment).
maybe_kill() {
  [ "$kill_every" -gt 0 ] || return 0
  if [ -z "$victim" ] && [ "$now" -ge "$next_kill" ]; then
    if ((RANDOM % 2)); then victim=cdc; else victim=incremental incremental_kill_at=$now; fi
    next_kill=$((now + kill_every * 500 + $(random_below $((kill_every * 1000)))))
  fi
  if [ "$victim" = cdc ] && running "$follower" && signal_datakit KILL "$follower"; then
    follower_signalled=KILL victim='' cdc_kills=$((cdc_kills + 1))
  elif [ "$victim" = incremental ] && running "$incremental" && [ "$now" -ge "$incremental_kill_at" ] &&
    signal_datakit KILL "$incremental"; then
    incremental_killed=KILL victim=''
  fi
}

# The load, the follower and the scheduled runs, until pgbench is done.
soak() {
  pgbench -n -c 4 -j 2 -R "$rate" -T "$duration" -f "$work/insert.sql@40" -f "$work/update.sql@30" \
    -f "$work/update_newest.sql@15" -f "$work/delete.sql@10" -f "$work/batch.sql@5" "$source_url" >"$work/pgbench.out" 2>&1 &
  pgbench=$!
  clock
  next_run=0 next_kill=$((now + kill_every * 1000)) victim='' last_run_ms=1000
  while running "$pgbench"; do
    clock
    supervise_follower
    schedule_incremental
    maybe_kill
    sleep 0.1
  done
  wait "$pgbench" || failure "pgbench exited $?" "$work/pgbench.out"
  pgbench=''
}

# No more kills: the last scheduled run ends, the follower stops on SIGTERM (it commits what it has),
# then one bounded CDC run and one incremental run take what is left.
finish() {
  while [ -n "$incremental" ]; do clock && schedule_incremental && sleep 0.1; done
  stop_follower
  wait_for_slot
  (datakit PostgresCdc "$work/follower.rss" "${cdc_options[@]}") >>"$work/follower.log" 2>&1 ||
    failure "the last CDC run exited $?" "$work/follower.log"
  tail -1 "$work/follower.rss" >>"$work/follower.peaks"
  (datakit PostgresIncremental "$work/incremental.rss" "${incremental_options[@]}") >"$work/incremental.json" 2>>"$work/incremental.log" ||
    failure "the last incremental run exited $?" "$work/incremental.log"
  tail -1 "$work/incremental.rss" >>"$work/incremental.peaks"
}

# "lost extra duplicates" of the rows of <actual> against <expected> (two queries on the warehouse):
# lost counts expected rows missing (a stale row is lost and extra), extra distinct rows not expected.
compare() {
  wsql -F ' ' -c "WITH e AS ($1), a AS ($2)
    SELECT (SELECT count(*) FROM (TABLE e EXCEPT ALL TABLE a) l), (SELECT count(*) FROM (TABLE a EXCEPT TABLE e) x),
           (SELECT count(*) - count(DISTINCT a) FROM a)"
}
# p50, p99 and max (nearest rank) of the numbers in a file, or "- - -" when it has none.
percentiles() {
  { sort -n "$1" 2>/dev/null || true; } | awk '{ v[NR] = $1 }
    function at(p,  i) { i = int(p * NR); if (i < p * NR) i++; return v[i < 1 ? 1 : i] }
    END { if (NR) print at(0.5), at(0.99), v[NR]; else print "- - -" }'
}
peak_mib() { echo $(($(sort -n "$1" | tail -1) / 1024)); }

report() {
  local source_rows cdc changes inc lag transactions writes deleted
  psql -qX "$warehouse_url" -c "CREATE TABLE soak.source (id bigint, version int, payload text, changed_at timestamptz)" \
    -c "CREATE TABLE soak.writes (op text, id bigint, version int)"
  sql -c "COPY public.accounts (id, version, payload, changed_at) TO STDOUT" | wsql -c "COPY soak.source FROM STDIN"
  sql -c "COPY public.accounts_writes TO STDOUT" | wsql -c "COPY soak.writes FROM STDIN"
  source_rows=$(wsql -c "SELECT count(*) FROM soak.source")
  writes=$(wsql -c "SELECT count(*) FROM soak.writes")
  cdc=$(compare "SELECT id, version, payload, changed_at FROM soak.source" "SELECT id, version, payload, changed_at FROM bronze.accounts")
  changes=$(compare "TABLE soak.writes" "SELECT _cdc_op, id, version FROM bronze.accounts__changes")
  inc=$(compare "SELECT id, version, payload, changed_at FROM soak.source" \
    "SELECT id, version, payload, changed_at FROM bronze.accounts_incremental WHERE _bronze_deleted_at IS NULL")
  deleted=$(wsql -c "SELECT count(*) FROM bronze.accounts_incremental WHERE _bronze_deleted_at IS NOT NULL")
  wsql -c "SELECT round(ms) FROM soak.lag" >"$work/lag.ms"
  lag=$(percentiles "$work/lag.ms")
  transactions=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
  printf 'soak: %s s at %s transactions/s, %s, incremental runs every %s s\n' "$duration" "$rate" "$kills" "$incremental_every"
  printf '  load          %s transactions, %s row writes; %s rows in the source at the end\n' "$transactions" "$writes" "$source_rows"
  printf '  kills         %s: %s of the CDC follower, %s of incremental runs\n' "$((cdc_kills + runs_killed))" "$cdc_kills" "$runs_killed"
  printf '  runs          CDC follower started %s times (%s refused: a killed run still held on); ' "$cdc_starts" "$cdc_refused"
  printf 'incremental %s runs: %s done, %s killed, %s refused; %s unexpected ends\n' \
    "$runs" "$runs_done" "$runs_killed" "$runs_refused" "$failures"
  read -r p50 p99 max <<<"$lag"
  printf '  CDC lag       p50 %s ms, p99 %s ms, max %s ms (%s changes, source commit to warehouse commit, restarts included)\n' \
    "$p50" "$p99" "$max" "$(wc -l <"$work/lag.ms")"
  read -r p50 _ max < <(percentiles "$work/run.ms")
  printf '  incremental   run p50 %s ms, max %s ms (start-up included);' "$p50" "$max"
  read -r p50 _ max < <(percentiles "$work/freshness.ms")
  printf ' newest change in bronze at the end of a run: p50 %s ms, max %s ms old\n' "$p50" "$max"
  printf '  peak RSS      CDC follower %s MiB, incremental run %s MiB (-Xmx%s)\n' "$(peak_mib "$work/follower.peaks")" \
    "$(peak_mib "$work/incremental.peaks")" "$heap"
  printf '  correctness   (lost / extra / duplicates)\n'
  printf '    bronze.accounts (CDC --apply) against the source:            %s\n' "${cdc// / \/ }"
  printf '    bronze.accounts__changes against every write at the source:  %s\n' "${changes// / \/ }"
  printf '    bronze.accounts_incremental against the source:              %s (%s rows marked deleted by --detect-deletes)\n' \
    "${inc// / \/ }" "$deleted"
  if [ "$cdc $changes $inc" = "0 0 0 0 0 0 0 0 0" ] && [ "$failures" = 0 ] && [ "$writes" -gt 0 ]; then
    printf '  result        PASS\n'
  else
    printf '  result        FAIL (logs in %s)\n' "$work"
    exit 1
  fi
}

# The first CDC run makes the slot (and loads the empty table): every write after it must land once.
# A first write makes the change table, which the lag trigger needs, and a first incremental run its
# bronze table. These first runs also write the class-data archives (seconds and memory at JVM exit),
# so they stay out of the figures.
start() {
  ./jbang export portable --force -O "$work/PostgresCdc.jar" datakits/PostgresCdc.java >/dev/null 2>&1
  ./jbang export portable --force -O "$work/PostgresIncremental.jar" datakits/PostgresIncremental.java >/dev/null 2>&1
  (datakit PostgresCdc "$work/first.rss" "${cdc_options[@]}") >>"$work/follower.log" 2>&1 ||
    die "the first CDC run failed" "$work/follower.log"
  sql -c "INSERT INTO public.accounts (id, version, payload) VALUES (nextval('public.accounts_ids'), 1, 'first')"
  (datakit PostgresIncremental "$work/first.rss" "${incremental_options[@]}") >/dev/null 2>>"$work/incremental.log" ||
    die "the first incremental run failed" "$work/incremental.log"
  start_follower
  until [ "$(wsql -c "SELECT to_regclass('bronze.accounts__changes') IS NOT NULL")" = t ]; do
    running "$follower" || die "the CDC follower ended at start-up" "$work/follower.log"
    sleep 0.1
  done
  # A deferred trigger runs at the warehouse commit: it notes how long after its source commit each change landed.
  wsql <<'SQL'
CREATE FUNCTION soak.note_lag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO soak.lag VALUES (extract(epoch FROM clock_timestamp() - NEW._cdc_commit_ts) * 1000); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER soak_lag AFTER INSERT ON bronze.accounts__changes DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION soak.note_lag();
SQL
}

say "preparing bench_soak_source and bench_soak_warehouse, exporting the datakits (jbang export portable)"
prepare
start
say "soaking: $duration s at $rate transactions/s, $kills (logs in $work)"
soak
say "the load stopped: the last runs"
finish
report
