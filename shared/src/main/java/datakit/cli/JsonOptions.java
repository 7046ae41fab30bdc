package datakit.cli;

import datakit.error.DatakitException;
import datakit.json.ExplodeSpec;
import datakit.json.Flatten;
import datakit.json.FlattenSpec;
import datakit.source.LargeObjects;
import datakit.source.Selection;
import datakit.sql.Identifiers;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Option;

/**
 * What becomes of JSON and array columns: {@code --flatten} (with the {@code --sample-rows} whose documents
 * its key types are learnt from), {@code --explode}, both repeatable, and {@code --profile}.
 */
public class JsonOptions implements CheckedOptions {

    @Option(names = "--flatten", paramLabel = "COLUMN[.KEY...][:DEPTH]",
        description = "Make the keys of a json or jsonb column (or of an object inside it) typed columns named column__key, "
            + "DEPTH levels down (default 1). Repeatable. The raw column is kept.")
    List<String> flatten = new ArrayList<>();

    @Option(names = "--explode", paramLabel = "COLUMN[.KEY...]",
        description = "Land the elements of an array column, or of a JSON array inside a JSON column, in a child table "
            + "<table>__<column> with the row's primary key, the element's ordinal and its value (object keys as columns). Repeatable.")
    List<String> explode = new ArrayList<>();

    @Option(names = "--json-columns", paramLabel = "A,B", descriptionKey = "JSON_COLUMNS",
        description = "Text columns that hold JSON: they land as jsonb; a value that does not parse leaves the column NULL and goes, "
            + "with the error and the row's key, to _bronze_rejects, without failing the run.")
    String jsonColumns;

    @Option(names = "--large-objects", paramLabel = "A,B", descriptionKey = "LARGE_OBJECTS",
        description = "oid columns whose large objects land as bytea in <column>__content; a missing one, or one over the cap, "
            + "leaves it NULL and goes to _bronze_rejects, without failing the run.")
    String largeObjects;

    @Option(names = "--large-object-cap", paramLabel = "SIZE", descriptionKey = "LARGE_OBJECT_CAP",
        description = "Largest large object landed, in bytes or with K, M or G (default 64M, at most 1000000000 bytes); "
            + "the datakit's heap holds one at a time.")
    String largeObjectCap;

    @Option(names = "--profile", description = "Profile the keys of every JSON column read (types, presence, nulls, over all rows), "
        + "store the profile in bronze and report what changed since the last one (new, vanished, retyped keys).")
    boolean profile;

    @Option(names = "--sample-rows", paramLabel = "N|all", descriptionKey = "SAMPLE_ROWS",
        description = "Rows whose documents are read to find the keys and their types (default: 10000; all reads every row).")
    String sampleRows;

    @Override
    public void check() {
        flatten();
        explode();
        jsonColumns();
        largeObjects();
    }

    private LargeObjects largeObjects() {
        DatakitException.check(largeObjectCap == null || largeObjects != null, "--large-object-cap caps --large-objects, which is not "
            + "given. Name the oid columns with --large-objects, or leave the cap out.");
        List<String> columns = largeObjects == null ? List.of() : Identifiers.split(largeObjects, ',', "--large-objects").stream().distinct().toList();
        return new LargeObjects(columns, largeObjectCap == null ? LargeObjects.DEFAULT_CAP_BYTES : bytes(largeObjectCap));
    }

    private static long bytes(String size) {
        long bytes = SizeOption.bytes(size, "--large-object-cap");
        DatakitException.check(bytes >= 1 && bytes <= LargeObjects.MAX_CAP_BYTES, "--large-object-cap is \"%s\": give 1 byte to %,d bytes "
            + "(a bytea holds at most 1 GB).", size, LargeObjects.MAX_CAP_BYTES);
        return bytes;
    }

    /** The selection with these JSON columns flattened, these arrays exploded, and JSON keys profiled if asked. */
    public Selection applyTo(Selection selection) {
        return selection.flatten(flatten()).explode(explode()).profile(profile).jsonText(jsonColumns()).largeObjects(largeObjects());
    }

    /**
     * What becomes of each table's JSON in a set of tables ({@code setDescription}): --profile for every table; the options that
     * name one table's columns are refused.
     */
    public UnaryOperator<Selection> forSet(String setDescription) {
        for (var option : List.of(new Named(!flatten.isEmpty(), "--flatten"), new Named(!explode.isEmpty(), "--explode"),
                new Named(jsonColumns != null, "--json-columns"), new Named(largeObjects != null, "--large-objects"))) {
            DatakitException.check(!option.given(), "%s names columns of one table, and %s selects a set of tables. Load that table "
                + "on its own with %s, and leave it out of the set with --exclude-table.", option.name(), setDescription, option.name());
        }
        return this::applyTo;
    }

    private record Named(boolean given, String name) {
    }

    private List<String> jsonColumns() {
        return jsonColumns == null ? List.of() : Identifiers.split(jsonColumns, ',', "--json-columns").stream().distinct().toList();
    }

    private List<ExplodeSpec> explode() {
        return explode.stream().map(ExplodeSpec::parse).toList();
    }

    Flatten flatten() {
        return new Flatten(flatten.stream().map(FlattenSpec::parse).toList(), sampleRows());
    }

    private long sampleRows() {
        if (sampleRows == null) {
            return Flatten.DEFAULT_SAMPLE_ROWS;
        }
        if (sampleRows.equalsIgnoreCase("all")) {
            return 0;
        }
        DatakitException.check(sampleRows.matches("[0-9]{1,12}") && Long.parseLong(sampleRows) > 0,
            "--sample-rows is \"%s\": give a number of rows, such as 10000, or all.", sampleRows);
        return Long.parseLong(sampleRows);
    }
}
