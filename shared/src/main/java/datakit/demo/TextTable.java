package datakit.demo;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** A query result printed as an aligned text table, psql style, for the demo. */
record TextTable(List<String> header, List<List<String>> rows) {
    private static final int MAX_CELL = 60;

    static TextTable query(Connection connection, String sql) throws SQLException {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            var header = new ArrayList<String>();
            for (int i = 1; i <= n; i++) {
                header.add(rs.getMetaData().getColumnLabel(i));
            }
            var rows = new ArrayList<List<String>>();
            while (rs.next()) {
                var row = new ArrayList<String>();
                for (int i = 1; i <= n; i++) {
                    String value = rs.getString(i);
                    row.add(value == null ? "" : value.length() > MAX_CELL ? value.substring(0, MAX_CELL - 1) + "…" : value);
                }
                rows.add(row);
            }
            return new TextTable(header, rows);
        }
    }

    void print(PrintWriter out, String title) {
        int[] widths = new int[header.size()];
        for (int i = 0; i < widths.length; i++) {
            widths[i] = header.get(i).length();
            for (var row : rows) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        out.println();
        out.println(title);
        out.println(line(header, widths));
        var rule = new StringBuilder();
        for (int w : widths) {
            rule.append(rule.isEmpty() ? "" : "+").append("-".repeat(w + 2));
        }
        out.println(rule);
        rows.forEach(r -> out.println(line(r, widths)));
    }

    private static String line(List<String> cells, int[] widths) {
        var line = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            line.append(i == 0 ? " " : " | ").append(String.format("%-" + widths[i] + "s", cells.get(i)));
        }
        return line.toString().stripTrailing();
    }
}
