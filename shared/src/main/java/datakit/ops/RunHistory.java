package datakit.ops;

import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.report.RunSummary;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/** {@code bronze-runs}: the recent runs of a bronze schema from {@code extraction_runs}, newest first. */
public final class RunHistory {
    private RunHistory() {
    }

    /** Up to {@code limit} runs, of one stream if given, newest first; none when the schema has no bookkeeping yet. */
    public static List<Map<String, Object>> recent(Database warehouse, String bronzeSchema, Optional<String> stream,
                                                   Optional<String> status, int limit) {
        String runs = TableRef.of(bronzeSchema, "extraction_runs").sql();
        try {
            return warehouse.inTransaction(connection -> recent(Sql.using(connection), runs, stream, status, limit));
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Reading the run history of " + bronzeSchema, e, warehouse);
        }
    }

    private static List<Map<String, Object>> recent(DSLContext db, String runs, Optional<String> stream, Optional<String> status, int limit) {
        if (!db.resultQuery("SELECT to_regclass(?) IS NOT NULL", runs).fetchOne(0, Boolean.class)) {
            return List.of();
        }
        return db.resultQuery("SELECT run_id::text, stream, datakit, mode, write_mode, status, "
                    + "to_char(started_at, 'YYYY-MM-DD HH24:MI:SS TZ'), "
                    + "(extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at) * 1000)::bigint, rows_loaded, bytes_loaded, error "
                    + "FROM " + runs + " WHERE (?::text IS NULL OR stream = ?) AND (?::text IS NULL OR status = ?) "
                    + "ORDER BY started_at DESC LIMIT ?", stream.orElse(null), stream.orElse(null), status.orElse(null),
                status.orElse(null), limit)
            .fetch(r -> {
                var run = new LinkedHashMap<String, Object>();
                run.put("run_id", r.get(0, String.class));
                run.put("stream", r.get(1, String.class));
                run.put("datakit", r.get(2, String.class));
                run.put("mode", r.get(3, String.class));
                run.put("write_mode", r.get(4, String.class));
                run.put("status", r.get(5, String.class));
                run.put("started_at", r.get(6, String.class));
                run.put("duration_ms", r.get(7, Long.class));
                run.put("rows", r.get(8, Long.class));
                run.put("bytes", r.get(9, Long.class));
                run.put("error", r.get(10, String.class));
                return run;
            });
    }

    /** A line per run for people, or one JSON object. */
    public static void print(PrintWriter out, boolean json, String bronzeSchema, List<Map<String, Object>> runs) {
        if (json) {
            out.println(RunSummary.toJson(Map.of("schema", bronzeSchema, "runs", runs)));
            out.flush();
            return;
        }
        if (runs.isEmpty()) {
            out.println("bronze-runs: no runs in " + bronzeSchema);
        }
        var lines = new ArrayList<String>();
        for (Map<String, Object> run : runs) {
            Object rows = run.get("rows");
            lines.add("%-23s  %-9s  %-30s  %-20s  %12s rows  %8.1f s%s".formatted(run.get("started_at"), run.get("status"), run.get("stream"),
                run.get("datakit"), rows == null ? "-" : "%,d".formatted((Long) rows), ((Long) run.get("duration_ms")) / 1000.0,
                run.get("error") == null ? "" : "  " + run.get("error")));
        }
        lines.forEach(out::println);
        out.flush();
    }
}
