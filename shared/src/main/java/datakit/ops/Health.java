package datakit.ops;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.bronze.SchemaChange;
import datakit.config.ConnectionSettings;
import datakit.db.Database;
import datakit.db.ReplayLag;
import datakit.db.SqlErrors;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.SlotReserve;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * What {@code postgres-health} finds about one database, read-only, on a connection of its own made
 * once (no retries: a health check reports a database it cannot reach at once). Problems found are
 * kept as {@link #unhealthy()} (the database cannot serve: unreachable, a replication slot lost) or
 * {@link #warnings()} (it serves, but something needs a look: a slot far behind, a stream whose last
 * run failed or is old, a stream its --on-schema-change stopped).
 */
public final class Health {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String role;
    private final Map<String, Object> report = new LinkedHashMap<>();
    private final List<String> unhealthy = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();

    private Health(String role) {
        this.role = role;
    }

    /**
     * Thresholds: slot lag (bytes) above which a slot is behind, and a standby's WAL received but not replayed; age above
     * which a stream's last run is stale; age of a standby's last replayed transaction above which its data is stale.
     */
    public record Limits(long slotLagBytes, Optional<Duration> staleAfter, Duration replayLag) {
    }

    /** Checks a source database: connection, size, tables of {@code schema}, capabilities, replication slots. */
    public static Health ofSource(ConnectionSettings settings, String schema, Limits limits) {
        var health = new Health("source");
        health.check(settings, db -> {
            health.serverFacts(db, schema);
            health.standby(db, limits);
            health.capabilities(db);
            health.slots(db, limits);
        });
        return health;
    }

    /** Checks a warehouse: connection, size, tables of the bronze schema, the last run of each stream. */
    public static Health ofWarehouse(ConnectionSettings settings, String bronzeSchema, Limits limits) {
        var health = new Health("warehouse");
        health.check(settings, db -> {
            health.serverFacts(db, bronzeSchema);
            health.streams(db, bronzeSchema, limits);
        });
        return health;
    }

    private interface Checks {
        void run(DSLContext db);
    }

    private void check(ConnectionSettings settings, Checks checks) {
        report.put("database", settings.describe());
        long started = System.nanoTime();
        try (Connection connection = Database.connectOnce(settings, Database.Access.READ_ONLY)) {
            report.put("connected", true);
            DSLContext db = Sql.using(connection);
            long asked = System.nanoTime();
            db.resultQuery("SELECT 1").fetch();
            report.put("connect_ms", (asked - started) / 1_000_000);
            report.put("response_time_ms", (System.nanoTime() - asked) / 1_000_000);
            checks.run(db);
        } catch (SQLException | RuntimeException e) {
            report.putIfAbsent("connected", false);
            String message = SqlErrors.serverMessage(e);
            report.put("error", message);
            unhealthy.add(role + " " + settings.describe() + ": " + message);
        }
    }

    private void serverFacts(DSLContext db, String schema) {
        Record r = db.resultQuery("""
            SELECT current_setting('server_version'), pg_catalog.pg_database_size(current_database()), pg_catalog.pg_is_in_recovery(),
                   (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = ? AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))""", schema).fetchOne();
        report.put("server_version", r.get(0, String.class));
        report.put("database_size_bytes", r.get(1, Long.class));
        report.put("in_recovery", r.get(2, Boolean.class));
        report.put("schema", schema);
        report.put("table_count", r.get(3, Long.class));
    }

    /** A hot standby: how far its data is behind the primary, with a warning past the limits. */
    private void standby(DSLContext db, Limits limits) {
        db.connectionResult(ReplayLag::of).ifPresent(lag -> {
            report.put("standby", lag.asMap());
            if (lag.unknown()) {
                warnings.add(("%s %s is a standby whose replay lag cannot be read (%s): grant the user EXECUTE on the function, or "
                    + "ignore this where the server does not offer it").formatted(role, report.get("database"), lag.whyUnknown()));
            }
            if (lag.seconds() != null && lag.seconds() > limits.replayLag().toMillis() / 1000.0) {
                warnings.add(("%s %s is a standby whose last replayed transaction committed %s ago (more than --replay-lag-warning %s): "
                    + "its data is that old, unless the primary wrote nothing since. Check its replication (pg_stat_wal_receiver), or "
                    + "write a heartbeat row on the primary every minute").formatted(role, report.get("database"),
                    Duration.ofMillis(Math.round(lag.seconds() * 1000)), limits.replayLag()));
            }
            if (lag.unreplayedBytes() != null && lag.unreplayedBytes() > limits.slotLagBytes()) {
                warnings.add(("%s %s is a standby with %,d bytes of WAL received and not yet replayed (more than --lag-warning %,d): "
                    + "replay is paused (pg_get_wal_replay_pause_state()) or waits for reads that conflict with it").formatted(role,
                    report.get("database"), lag.unreplayedBytes(), limits.slotLagBytes()));
            }
        });
    }

    private void capabilities(DSLContext db) {
        Record r = db.resultQuery("""
            SELECT current_setting('server_version_num')::int, current_setting('wal_level'),
                   (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
                   current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_catalog.pg_replication_slots),
                   pg_catalog.pg_is_in_recovery(), current_setting('server_version')""").fetchOne();
        var capabilities = new LinkedHashMap<String, Object>();
        capabilities.put("incremental", true);
        int version = r.get(0, Integer.class);
        capabilities.put("partitions", version >= 100000);
        String walLevel = r.get(1, String.class);
        boolean replication = r.get(2, Boolean.class);
        int freeSlots = r.get(3, Integer.class);
        var missing = new ArrayList<String>();
        if (r.get(4, Boolean.class) && version < 160000) {
            missing.add("a standby decodes changes only from PostgreSQL 16 on, and this one is " + r.get(5, String.class).split(" ")[0]
                + ": point postgres-cdc at the primary");
        }
        if (!walLevel.equals("logical")) {
            missing.add("wal_level is " + walLevel + ", not logical");
        }
        if (!replication) {
            missing.add("the user has no REPLICATION attribute");
        }
        if (freeSlots <= 0) {
            missing.add("no replication slot is free (max_replication_slots)");
        }
        capabilities.put("logical_replication", missing.isEmpty());
        if (!missing.isEmpty()) {
            capabilities.put("logical_replication_missing", String.join("; ", missing));
        }
        capabilities.put("wal_level", walLevel);
        capabilities.put("replication_privilege", replication);
        capabilities.put("free_replication_slots", freeSlots);
        report.put("capabilities", capabilities);
    }

    /** A slot nobody has read for this long keeps WAL for a stream that may be gone (17+ says since when; --stale-after overrides). */
    static final Duration SLOT_INACTIVE = Duration.ofDays(1);

    private void slots(DSLContext db, Limits limits) {
        var slots = new ArrayList<Map<String, Object>>();
        Duration inactiveLimit = limits.staleAfter().orElse(SLOT_INACTIVE);
        db.resultQuery("""
                SELECT s.slot_name::text, s.slot_type, coalesce(s.plugin::text, ''), coalesce(s.database::text, ''), s.active,
                       coalesce(pg_catalog.pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn), 0)::bigint,
                       coalesce(pg_catalog.pg_wal_lsn_diff(w.lsn, s.restart_lsn), 0)::bigint,
                       coalesce(to_jsonb(s) ->> 'wal_status', ''), (to_jsonb(s) ->> 'safe_wal_size')::bigint,
                       (SELECT NULLIF(setting::bigint, -1) * 1048576 FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size'),
                       extract(epoch FROM now() - (to_jsonb(s) ->> 'inactive_since')::timestamptz)::bigint
                FROM pg_catalog.pg_replication_slots s,
                     LATERAL (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                                          ELSE pg_catalog.pg_current_wal_lsn() END AS lsn) w
                ORDER BY 1""")
            .forEach(r -> {
                var slot = new LinkedHashMap<String, Object>();
                String name = r.get(0, String.class);
                long lag = r.get(5, Long.class);
                String walStatus = r.get(7, String.class);
                var reserve = new SlotReserve(name, walStatus, Optional.ofNullable(r.get(8, Long.class)), Optional.ofNullable(r.get(9, Long.class)));
                Optional<Long> inactiveSeconds = Optional.ofNullable(r.get(10, Long.class));
                slot.put("name", name);
                slot.put("type", r.get(1, String.class));
                slot.put("plugin", r.get(2, String.class));
                slot.put("database", r.get(3, String.class));
                slot.put("active", r.get(4, Boolean.class));
                slot.put("lag_bytes", lag);
                slot.put("retained_wal_bytes", r.get(6, Long.class));
                slot.put("wal_status", walStatus);
                reserve.safeWalBytes().ifPresent(safe -> slot.put("safe_wal_bytes", safe));
                inactiveSeconds.ifPresent(seconds -> slot.put("inactive_seconds", seconds));
                slots.add(slot);
                if (walStatus.equals("lost")) {
                    unhealthy.add("slot " + name + " has lost WAL it needed: its reader cannot go on. Run its stream once with "
                        + "--on-slot-lost resnapshot to make it again and reload the tables, or drop it (postgres-cdc --slot " + name
                        + " --drop-slot)");
                } else if (reserve.warning().isPresent()) {
                    warnings.add(reserve.warning().get());
                } else if (lag > limits.slotLagBytes()) {
                    warnings.add("slot %s is %,d bytes behind (more than --lag-warning %,d)".formatted(name, lag, limits.slotLagBytes()));
                }
                if (inactiveSeconds.filter(seconds -> seconds > inactiveLimit.toSeconds()).isPresent()) {
                    warnings.add(("slot %s has not been read for %s (more than %s): it keeps WAL for a reader that may be gone; run its "
                        + "stream, or drop the slot if none reads it").formatted(name, Duration.ofSeconds(inactiveSeconds.get()), inactiveLimit));
                }
            });
        report.put("replication_slots", slots);
    }

    private void streams(DSLContext db, String bronzeSchema, Limits limits) {
        var view = TableRef.of(bronzeSchema, "extraction_latest_runs");
        boolean bookkeeping = db.resultQuery("SELECT to_regclass(?) IS NOT NULL", view.sql()).fetchOne(0, Boolean.class);
        report.put("bronze_schema_migrated", bookkeeping);
        var streams = new ArrayList<Map<String, Object>>();
        if (bookkeeping) {
            db.resultQuery("SELECT stream, datakit, status, to_char(started_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF'), "
                    + "extract(epoch FROM now() - coalesce(ended_at, started_at))::bigint, rows_loaded, error, "
                    + "(details -> 'schema_changes_refused')::text FROM " + view.sql() + " ORDER BY stream")
                .forEach(r -> {
                    var stream = new LinkedHashMap<String, Object>();
                    String name = r.get(0, String.class);
                    String status = r.get(2, String.class);
                    long age = r.get(4, Long.class);
                    stream.put("stream", name);
                    stream.put("datakit", r.get(1, String.class));
                    stream.put("status", status);
                    stream.put("started_at", r.get(3, String.class));
                    stream.put("age_seconds", age);
                    stream.put("rows", r.get(5, Long.class));
                    Optional.ofNullable(r.get(6, String.class)).ifPresent(e -> stream.put("error", e));
                    List<SchemaChange> refused = status.equals("failed") ? refusedChanges(r.get(7, String.class)) : List.of();
                    if (!refused.isEmpty()) {
                        stream.put("schema_changes_refused", refused.stream().map(SchemaChange::toDetails).toList());
                    }
                    streams.add(stream);
                    if (!refused.isEmpty()) {
                        warnings.add(("stream %s: stopped by a schema change its --on-schema-change refused: %s. Run it with "
                            + "--on-schema-change evolve to follow the change").formatted(name,
                            String.join("; ", refused.stream().map(SchemaChange::what).toList())));
                    } else if (status.equals("failed") || status.equals("abandoned")) {
                        warnings.add("stream " + name + ": its last run " + status);
                    } else if (limits.staleAfter().filter(d -> age > d.toSeconds()).isPresent()) {
                        warnings.add("stream %s: its last run is %s old (more than --stale-after %s)".formatted(name,
                            Duration.ofSeconds(age), limits.staleAfter().get()));
                    }
                });
        }
        report.put("streams", streams);
    }

    /**
     * The schema changes a failed run's --on-schema-change refused ({@code details.schema_changes_refused}, a JSON list), none
     * for a run that failed for another reason.
     */
    private static List<SchemaChange> refusedChanges(String json) {
        if (json == null) {
            return List.of();
        }
        try {
            List<Map<String, Object>> listed = JSON.readValue(json, new TypeReference<>() { });
            return listed.stream().map(SchemaChange::fromDetails).toList();
        } catch (JsonProcessingException | IllegalArgumentException e) {
            // Details another version wrote in another form: the run is still reported as failed, with its error.
            return List.of();
        }
    }

    public Map<String, Object> report() {
        return report;
    }

    List<String> unhealthy() {
        return unhealthy;
    }

    public List<String> warnings() {
        return warnings;
    }
}
