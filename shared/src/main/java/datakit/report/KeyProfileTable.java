package datakit.report;

import datakit.json.KeyProfile;
import datakit.json.KeyTypes;
import java.io.PrintWriter;

/** A JSON column's key profile as a table for people: each key path, its JSON types, presence and nulls. */
public final class KeyProfileTable {
    private KeyProfileTable() {
    }

    public static void print(PrintWriter out, KeyProfile profile) {
        out.println();
        out.println("keys of %s (%,d documents)".formatted(profile.column(), profile.documents()));
        int width = Math.max(3, profile.keys().stream().mapToInt(k -> String.join(".", k.path()).length()).max().orElse(3));
        out.println(("  %-" + width + "s  %-24s %12s %12s").formatted("key", "types", "present", "nulls"));
        for (KeyTypes key : profile.keys()) {
            out.println(("  %-" + width + "s  %-24s %,12d %,12d").formatted(String.join(".", key.path()),
                key.valueTypes().isEmpty() ? "null" : String.join(", ", key.valueTypes()), key.present(), key.nulls()));
        }
        out.flush();
    }
}
