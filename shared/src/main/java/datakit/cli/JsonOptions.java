package datakit.cli;

import datakit.json.ExplodeSpec;
import datakit.json.Flatten;
import datakit.json.FlattenSpec;
import datakit.source.Selection;
import datakit.sql.Identifiers;
import java.util.ArrayList;
import java.util.List;
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
    }

    /** The selection with these JSON columns flattened, these arrays exploded, and JSON keys profiled if asked. */
    public Selection applyTo(Selection selection) {
        return selection.flatten(flatten()).explode(explode()).profile(profile).jsonText(jsonColumns());
    }

    private List<String> jsonColumns() {
        return jsonColumns == null ? List.of() : Identifiers.split(jsonColumns, ',', "--json-columns");
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
