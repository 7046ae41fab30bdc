package datakit.source;

import datakit.sql.TableRef;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What in the source's catalog decides the values a read of a table returns, as hashes: one for the whole read and one per
 * column read. DDL can change those values without writing a row, so without leaving a newer {@code xmin} on any: an enum
 * label renamed, a column dropped and added again under the same name with a DEFAULT (older rows get the stored "missing"
 * value), a domain changed. A shortcut that keeps what an earlier run read because no row changed ("unchanged, kept")
 * must also find this fingerprint unchanged.
 *
 * <p>Each column's hash covers its number ({@code attnum}), name, type and modifier, whether it is generated and from what
 * expression (a default only decides the values of rows written later, so it is left out), whether it has a stored value for older rows and that value ({@code atthasmissing}, {@code attmissingval}),
 * and every type its values go through: a domain's base type, {@code NOT NULL} and constraints, an array's element type, a
 * range's subtype, a composite type's attributes, and an enum's labels with their sort order. The whole read's hash covers
 * the columns read, and the numbers of the table's dropped columns (a column dropped and added again has a new number).
 * Multirange types are not followed into their range.
 *
 * @param hash    the whole read's hash (SHA-256, hex)
 * @param columns each column read (its name as the catalog stores it) with its hash, in the table's column order
 */
public record SchemaFingerprint(String hash, Map<String, String> columns) {

    public SchemaFingerprint {
        columns = Collections.unmodifiableMap(new LinkedHashMap<>(columns));
    }

    /**
     * A column as the catalog describes it: its number, name, whether it is dropped, and what decides its values as text
     * (JSON the catalog query builds, in a fixed key order).
     */
    record CatalogColumn(int attnum, String name, boolean dropped, String description) {
    }

    /**
     * Reads the fingerprint of {@code selection}'s table and columns (all of them without {@code --columns}) in the session's
     * snapshot, with one catalog query, after the read was planned (which found the table). A read of a query has no table,
     * so it has no fingerprint.
     */
    public static SchemaFingerprint read(SourceSession session, Selection selection) {
        TableRef table = selection.table().orElseThrow(() -> new IllegalArgumentException("a query has no schema fingerprint"));
        List<CatalogColumn> catalog = session.sql().resultQuery(QUERY, table.schema(), table.table())
            .fetch(r -> new CatalogColumn(r.get(0, Integer.class), r.get(1, String.class), r.get(2, Boolean.class), r.get(3, String.class)));
        return of(catalog, selection.columns());
    }

    /** The fingerprint of the {@code selected} columns (every column when empty) of a table whose catalog says {@code catalog}. */
    static SchemaFingerprint of(List<CatalogColumn> catalog, Collection<String> selected) {
        var columns = new LinkedHashMap<String, String>();
        catalog.stream().filter(c -> !c.dropped() && (selected.isEmpty() || selected.contains(c.name())))
            .forEach(c -> columns.put(c.name(), sha256(c.name() + '\n' + c.description())));
        var whole = new StringBuilder();
        columns.forEach((name, hash) -> whole.append(name).append(' ').append(hash).append('\n'));
        whole.append("dropped ").append(catalog.stream().filter(CatalogColumn::dropped).map(c -> String.valueOf(c.attnum()))
            .collect(Collectors.joining(",")));
        return new SchemaFingerprint(sha256(whole.toString()), columns);
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Every column of the table (dropped ones too) with what decides its values. {@code types} follows each column's type
     * to every type its values go through (domain base, array element, range subtype, composite attributes); the recursion
     * ends because no type contains itself.
     */
    private static final String QUERY = """
        WITH RECURSIVE cols AS (
            SELECT a.attnum, a.attname, a.attisdropped, a.atttypid, a.atttypmod, a.attgenerated::text AS generated,
                   pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expression, a.atthasmissing, a.attmissingval::text AS missing
            FROM pg_catalog.pg_attribute a
            LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                WHERE n.nspname = ? AND c.relname = ?)
              AND a.attnum > 0
        ), types(attnum, oid) AS (
            SELECT attnum, atttypid FROM cols WHERE NOT attisdropped
            UNION
            SELECT t.attnum, inner_type.oid
            FROM types t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
            CROSS JOIN LATERAL (
                SELECT ty.typbasetype WHERE ty.typtype = 'd'
                UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 AND ty.typlen = -1
                UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = ty.oid
                UNION ALL SELECT ca.atttypid FROM pg_catalog.pg_attribute ca
                          WHERE ty.typtype = 'c' AND ca.attrelid = ty.typrelid AND ca.attnum > 0 AND NOT ca.attisdropped
            ) AS inner_type(oid)
        ), type_descriptions AS (
            SELECT ty.oid, pg_catalog.json_build_object(
                'type', ty.oid, 'kind', ty.typtype, 'base', ty.typbasetype, 'base_typmod', ty.typtypmod, 'not_null', ty.typnotnull,
                'labels', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(e.enumlabel, e.enumsortorder) ORDER BY e.enumsortorder)
                           FROM pg_catalog.pg_enum e WHERE e.enumtypid = ty.oid),
                'constraints', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(c.conname, pg_catalog.pg_get_constraintdef(c.oid))
                                       ORDER BY c.conname)
                                FROM pg_catalog.pg_constraint c WHERE c.contypid = ty.oid),
                'attributes', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(ca.attnum, ca.attname, ca.atttypid, ca.atttypmod,
                                      ca.attisdropped) ORDER BY ca.attnum)
                               FROM pg_catalog.pg_attribute ca WHERE ty.typtype = 'c' AND ca.attrelid = ty.typrelid AND ca.attnum > 0)
            ) AS description
            FROM pg_catalog.pg_type ty WHERE ty.oid IN (SELECT oid FROM types)
        )
        SELECT c.attnum, c.attname::text, c.attisdropped, pg_catalog.json_build_object(
                   'attnum', c.attnum, 'type', c.atttypid, 'typmod', c.atttypmod, 'generated', c.generated,
                   'generated_as', CASE WHEN c.generated <> '' THEN c.default_expression END, 'has_missing', c.atthasmissing, 'missing', c.missing,
                   'types', (SELECT pg_catalog.json_agg(td.description ORDER BY td.oid)
                             FROM types t JOIN type_descriptions td ON td.oid = t.oid WHERE t.attnum = c.attnum))::text
        FROM cols c ORDER BY c.attnum""";
}
