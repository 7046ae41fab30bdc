package datakit.testing;

import datakit.sandbox.PostgresServer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** A database created for a test, with small helpers to set it up and read it back. */
public record TestDatabase(PostgresServer server, String name) {

    /** postgresql://admin:password@host:port/name */
    public String url() {
        return server.url(name);
    }

    public Connection connect() throws SQLException {
        return TestPostgres.connect(server, name);
    }

    /** Runs SQL statements (a script with several statements is fine). */
    public void execute(String... sql) {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("test setup failed on " + name + ": " + e.getMessage(), e);
        }
    }

    /** Every row of a query, each column read with getString (PostgreSQL's text form). */
    public List<List<String>> rows(String sql) {
        try (Connection c = connect(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            var rows = new ArrayList<List<String>>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                var row = new ArrayList<String>(n);
                for (int i = 1; i <= n; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException("query failed on " + name + ": " + e.getMessage(), e);
        }
    }

    /** The single value of a query. */
    public String value(String sql) {
        var rows = rows(sql);
        if (rows.size() != 1 || rows.get(0).size() != 1) {
            throw new IllegalStateException("expected one value from " + sql + " but got " + rows);
        }
        return rows.get(0).get(0);
    }

    public long count(String table) {
        return Long.parseLong(value("SELECT count(*) FROM " + table));
    }

    /**
     * Drops replication slots of this server once no process holds them (a stopped stream's walsender ends
     * a moment after its client): a slot keeps WAL, and its database cannot be dropped, while it exists.
     */
    public void dropReplicationSlots(String... slots) {
        String names = "ARRAY['" + String.join("', '", slots) + "']";
        try {
            for (int i = 0; i < 100 && !value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = ANY (" + names + ")")
                    .equals("0"); i++) {
                Thread.sleep(50);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY (" + names + ")");
    }
}
