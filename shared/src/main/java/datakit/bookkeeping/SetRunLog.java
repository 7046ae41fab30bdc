package datakit.bookkeeping;

import datakit.report.RunSummary;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The {@code table_set_runs} table of a bronze schema: a row per run that loads a set of tables, with each table's load (its
 * own run in {@code extraction_runs}) and the set run whose snapshot it was read in. The next run of the set reads it to
 * complete a run that failed part-way, and to say which tables of the last run are gone.
 */
public final class SetRunLog {
    private final String table;
    private final String runs;

    public SetRunLog(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "table_set_runs").sql();
        this.runs = TableRef.of(bronzeSchema, "extraction_runs").sql();
    }

    /** The last run of a set: its id, whether it succeeded, and the source tables it named. */
    public record Previous(UUID runId, String status, List<String> tables) {
        public boolean succeeded() {
            return status.equals("succeeded");
        }
    }

    /** A table of the set loaded in an earlier run: its load's run, and the set run whose snapshot it was read in. */
    public record Loaded(String table, UUID runId, UUID loadedBy) {
    }

    /**
     * The last run of the set, if any. One still 'running' is a run whose process died: the caller holds the set's lock, which
     * that run held while it lived. It is marked failed here.
     */
    public Optional<Previous> last(Connection connection, String setName) {
        var db = Sql.using(connection);
        Optional<Previous> last = db.resultQuery("SELECT run_id, status, ARRAY(SELECT jsonb_object_keys(tables) ORDER BY 1) FROM " + table
                + " WHERE set_name = ? ORDER BY started_at DESC LIMIT 1", setName)
            .fetchOptional(r -> new Previous(r.get(0, UUID.class), r.get(1, String.class), List.of(r.get(2, String[].class))));
        if (last.filter(p -> p.status().equals("running")).isPresent()) {
            db.execute("UPDATE " + table + " SET status = 'failed', ended_at = clock_timestamp(), details = details || "
                + "'{\"error\": \"the run ended before it finished (its process was stopped)\"}'::jsonb WHERE run_id = ?", last.get().runId());
            return Optional.of(new Previous(last.get().runId(), "failed", last.get().tables()));
        }
        return last;
    }

    /** The tables of {@code previous} whose load committed, in its snapshot or, for tables it kept, in an earlier one. */
    public List<Loaded> loaded(Connection connection, Previous previous) {
        return Sql.using(connection).resultQuery("SELECT t.key, (t.value->>'run_id')::uuid, COALESCE((t.value->>'loaded_by')::uuid, s.run_id) "
                + "FROM " + table + " s CROSS JOIN LATERAL jsonb_each(s.tables) t JOIN " + runs + " r ON r.run_id = (t.value->>'run_id')::uuid "
                + "WHERE s.run_id = ? AND r.status = 'succeeded' ORDER BY 1", previous.runId())
            .fetch(r -> new Loaded(r.get(0, String.class), r.get(1, UUID.class), r.get(2, UUID.class)));
    }

    /** Records the set run as started, with the loads it keeps from the run it completes. */
    public void start(Connection connection, UUID runId, String setName, Optional<UUID> completes, List<Loaded> kept,
                      Map<String, Object> details) {
        var tables = new LinkedHashMap<String, Object>();
        kept.forEach(k -> tables.put(k.table(), Map.of("run_id", k.runId().toString(), "loaded_by", k.loadedBy().toString(),
            "status", "kept")));
        Sql.using(connection).execute("INSERT INTO " + table + " (run_id, set_name, completes, tables, details) VALUES (?, ?, ?, ?::jsonb, ?::jsonb)",
            runId, setName, completes.orElse(null), RunSummary.toJson(tables), RunSummary.toJson(details));
    }

    /** Records one table's load: started (its run id) or ended (its status). */
    public void table(Connection connection, UUID runId, String sourceTable, UUID tableRun, String stream, String status) {
        Sql.using(connection).execute("UPDATE " + table + " SET tables = tables || jsonb_build_object(?::text, jsonb_build_object("
            + "'run_id', ?::text, 'stream', ?::text, 'status', ?::text)) WHERE run_id = ?", sourceTable, tableRun.toString(), stream, status, runId);
    }

    /** Records how the set run ended. */
    public void finish(Connection connection, UUID runId, boolean succeeded) {
        Sql.using(connection).execute("UPDATE " + table + " SET status = ?, ended_at = clock_timestamp() WHERE run_id = ?",
            succeeded ? "succeeded" : "failed", runId);
    }
}
