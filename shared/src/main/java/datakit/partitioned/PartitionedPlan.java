package datakit.partitioned;

import datakit.bronze.Layout;
import datakit.source.Part;
import datakit.source.ReadPlan;
import datakit.sql.TableRef;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * A planned partitioned read: the columns (as for a full extract), the parts, and the exported source
 * snapshot every worker reads in.
 *
 * @param snapshot the id of the exported snapshot ({@code pg_export_snapshot()})
 * @param horizon  its oldest running transaction id, kept with each part for the unchanged-part rule
 */
public record PartitionedPlan(ReadPlan read, List<Part> parts, String snapshot, long horizon) {

    public PartitionedPlan {
        parts = List.copyOf(parts);
    }

    /**
     * What is read and how it lands, as a hash: loads with equal fingerprints make tables of the same
     * shape from the same rows, so a part of one can be kept in the other.
     */
    String fingerprint(String source, Layout layout) {
        var text = new StringBuilder(source).append('\n').append(read.describe()).append('\n').append(layout.label()).append('\n')
            .append(read.selection().where().orElse("")).append('\n');
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
