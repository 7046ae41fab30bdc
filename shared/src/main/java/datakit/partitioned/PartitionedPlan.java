package datakit.partitioned;

import datakit.bronze.Layout;
import datakit.source.Part;
import datakit.source.ReadPlan;
import datakit.source.SchemaFingerprint;
import datakit.sql.TableRef;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * A planned partitioned read: the columns (as for a full extract), the parts, and the exported source
 * snapshot every worker reads in.
 *
 * @param snapshot the id of the exported snapshot ({@code pg_export_snapshot()})
 * @param horizon  its oldest running transaction id, kept with each part for the unchanged-part rule
 * @param schema   what in the source's catalog decides the values read, in that snapshot: DDL can change them without
 *                 writing a row, which the unchanged-part rule would not see
 */
public record PartitionedPlan(ReadPlan read, List<Part> parts, String snapshot, long horizon, SchemaFingerprint schema) {

    public PartitionedPlan {
        parts = List.copyOf(parts);
    }

    /**
     * What is read and how it lands, as a hash: loads with equal fingerprints make tables of the same
     * shape from the same rows (the source's schema included), so a part of one can be kept in the other.
     */
    String fingerprint(String source, Layout layout) {
        return fingerprint(source, layout, read.describe());
    }

    /**
     * Whether the parts of the load bronze holds (whose fingerprint is {@code published}, "" if none) can be kept by a load of
     * this plan (whose fingerprint is {@code fingerprint}): equal fingerprints, or, in the run that follows the table to its new
     * name ({@code renamedFrom}), the fingerprint the old name gives: a rename changes no row.
     */
    boolean keeps(String published, String fingerprint, String source, Layout layout, Optional<String> renamedFrom) {
        return !published.isEmpty() && (published.equals(fingerprint)
            || renamedFrom.filter(before -> published.equals(fingerprint(source, layout, before))).isPresent());
    }

    private String fingerprint(String source, Layout layout, String table) {
        var text = new StringBuilder(source).append('\n').append(table).append('\n').append(layout.label()).append('\n')
            .append(read.selection().where().orElse("")).append('\n').append("schema ").append(schema.hash()).append('\n');
        read.columns().forEach(c -> text.append(c.name()).append(' ').append(c.bronzeType()).append('\n'));
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.toString().getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The source table of each part, in order: the names the mirror layout gives bronze tables. */
    List<TableRef> sourceTables() {
        return parts.stream().map(Part::relation).toList();
    }

    public long estimatedRows() {
        return parts.stream().mapToLong(p -> Math.max(0, p.estimatedRows())).sum();
    }
}
