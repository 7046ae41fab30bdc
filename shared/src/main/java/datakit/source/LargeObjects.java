package datakit.source;

import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Large-object columns ({@code --large-objects}): {@code oid} columns whose large objects land as
 * {@code bytea} next to them, each up to {@code capBytes}.
 */
public record LargeObjects(List<String> columns, long capBytes) {
    public static final long DEFAULT_CAP_BYTES = 64L << 20;
    /** A bytea holds at most 1 GB, and lo_get reads at most 2^31 - 1 bytes at a time. */
    public static final long MAX_CAP_BYTES = 1_000_000_000L;
    public static final LargeObjects NONE = new LargeObjects(List.of(), DEFAULT_CAP_BYTES);

    public LargeObjects {
        columns = List.copyOf(columns);
    }

    /** The bytea column that holds the content of the large objects of {@code column}. */
    public static String contentColumn(String column) {
        return column + "__content";
    }

    /**
     * The read's columns followed by the content of each large-object column ({@code doc__content bytea}):
     * the first cap + 1 bytes of the object, or NULL where it does not exist, so that neither a missing
     * object nor a huge one stops the read; the warehouse sets both aside.
     *
     * @param qualifier what names the read's row ({@code "sales"."docs".} or {@code q.}), so that a column
     *                  named like one of pg_largeobject_metadata's still means the read's
     */
    List<SourceColumn> withContent(List<SourceColumn> read, String qualifier) {
        var all = new ArrayList<>(read);
        for (String name : columns) {
            SourceColumn column = SourceColumn.named(read, name).filter(c -> c.expression().isEmpty())
                .orElseThrow(() -> DatakitException.badInput("--large-objects names %s, which the read has not. Name oid columns it reads.",
                    TableRef.display(name)));
            DatakitException.check(column.bronzeType().equals("oid"), "--large-objects names %s, which is %s: large objects are "
                + "referenced by oid columns.", TableRef.display(name), column.bronzeType());
            String content = contentColumn(name);
            DatakitException.check(SourceColumn.named(all, content).isEmpty(), "--large-objects %s lands the content in a "
                + "column %s, and the read already has one by that name. Rename it with a --query.", TableRef.display(name),
                TableRef.display(content));
            String oid = qualifier + Sql.quote(name);
            all.add(new SourceColumn(content, "large object", "bytea", false, Optional.of("content of the large objects in %s, up to %,d "
                .formatted(name, capBytes) + "bytes; missing and larger ones land in _bronze_rejects"), Optional.of(
                "CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_largeobject_metadata AS lo WHERE lo.oid = " + oid + ") THEN pg_catalog.lo_get("
                    + oid + ", 0, " + (capBytes + 1) + ") END")));
        }
        return all;
    }
}
