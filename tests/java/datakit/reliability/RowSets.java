package datakit.reliability;

import datakit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;

/** Rows of two databases compared as multisets of their text form: what is lost, extra or repeated. */
final class RowSets {
    private RowSets() {
    }

    /** Each row of {@code query}, as PostgreSQL's text of the whole row, with how often it occurs. */
    static Map<String, Long> rows(TestDatabase database, String query) {
        try (Connection c = database.connect(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT t::text FROM (" + query + ") t")) {
            var counts = new HashMap<String, Long>();
            while (rs.next()) {
                counts.merge(rs.getString(1), 1L, Long::sum);
            }
            return counts;
        } catch (SQLException e) {
            throw new IllegalStateException("query failed on " + database.name() + ": " + e.getMessage(), e);
        }
    }

    /** Compares the rows of {@code expectedQuery} on {@code expected} with those of {@code actualQuery} on {@code actual}. */
    static KillLoop.Outcome compare(String compared, TestDatabase expected, String expectedQuery, TestDatabase actual, String actualQuery) {
        return compare(compared, rows(expected, expectedQuery), rows(actual, actualQuery));
    }

    static KillLoop.Outcome compare(String compared, Map<String, Long> expected, Map<String, Long> actual) {
        long lost = 0;
        long extra = 0;
        long duplicates = 0;
        for (var row : expected.entrySet()) {
            lost += Math.max(0, row.getValue() - actual.getOrDefault(row.getKey(), 0L));
        }
        for (var row : actual.entrySet()) {
            long wanted = expected.getOrDefault(row.getKey(), 0L);
            if (wanted == 0) {
                extra += row.getValue();
            } else {
                duplicates += Math.max(0, row.getValue() - wanted);
            }
        }
        long rows = actual.values().stream().mapToLong(Long::longValue).sum();
        return new KillLoop.Outcome(compared, rows, lost, extra, duplicates);
    }
}
