package datakit.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * The stored key profiles of a bronze schema ({@code extraction_json_keys}), and the drift between a run's
 * profile and the last one stored for the same stream and column: keys that are new, keys that vanished,
 * keys whose JSON types changed (JSON nulls aside).
 */
public final class KeyProfiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String schema;

    public KeyProfiles(String schema) {
        this.schema = schema;
    }

    /** What changed in one column's keys since its last profile; {@code first} when there was none. */
    public record Drift(boolean first, List<String> newKeys, List<String> vanishedKeys, List<String> typeChanges) {
        public boolean none() {
            return newKeys.isEmpty() && vanishedKeys.isEmpty() && typeChanges.isEmpty();
        }

        /** For summaries. */
        public Map<String, Object> describe() {
            var map = new LinkedHashMap<String, Object>();
            if (first) {
                map.put("first_profile", true);
                return map;
            }
            map.put("new_keys", newKeys);
            map.put("vanished_keys", vanishedKeys);
            map.put("type_changes", typeChanges);
            return map;
        }
    }

    /**
     * Stores the run's profiles in the caller's transaction and returns each column's drift against the
     * profile the previous run stored.
     */
    public Map<String, Drift> save(Connection transaction, String stream, UUID run, List<KeyProfile> profiles) {
        DSLContext db = Sql.using(transaction);
        var drifts = new LinkedHashMap<String, Drift>();
        for (KeyProfile profile : profiles) {
            drifts.put(profile.column(), drift(db, stream, profile));
            // The column's own row (an empty path) marks every profiled run, also one that found no key.
            var rows = new ArrayList<KeyTypes>();
            rows.add(new KeyTypes(List.of(), Map.of()));
            rows.addAll(profile.keys());
            for (KeyTypes key : rows) {
                db.execute("""
                    INSERT INTO %s (stream, column_name, key_path, path_hash, types, present, nulls, documents, first_seen_run,
                                    first_seen_at, last_seen_run, last_seen_at)
                    SELECT ?, ?, p, md5(array_to_json(p)::text), ?::jsonb, ?, ?, ?, ?::uuid, now(), ?::uuid, now()
                    FROM (SELECT ?::text[] AS p) AS path
                    ON CONFLICT (stream, column_name, path_hash) DO UPDATE SET types = EXCLUDED.types, present = EXCLUDED.present,
                        nulls = EXCLUDED.nulls, documents = EXCLUDED.documents, last_seen_run = EXCLUDED.last_seen_run,
                        last_seen_at = EXCLUDED.last_seen_at""".formatted(table()),
                    stream, profile.column(), json(key.counts()), key.path().isEmpty() ? profile.documents() : key.present(), key.nulls(),
                    profile.documents(), run.toString(), run.toString(), key.path().toArray(String[]::new));
            }
        }
        return drifts;
    }

    private Drift drift(DSLContext db, String stream, KeyProfile profile) {
        // The keys the column's last profile saw: those stored with the run that profiled it last.
        var previous = new HashMap<List<String>, List<String>>();
        for (Record r : db.resultQuery("""
                SELECT key_path, types::text FROM %s
                WHERE stream = ? AND column_name = ? AND key_path <> '{}' AND last_seen_run = (
                    SELECT last_seen_run FROM %s WHERE stream = ? AND column_name = ? AND key_path = '{}')"""
                .formatted(table(), table()), stream, profile.column(), stream, profile.column()).fetch()) {
            previous.put(Arrays.asList(r.get(0, String[].class)), valueTypes(r.get(1, String.class)));
        }
        boolean first = db.resultQuery("SELECT count(*) FROM " + table() + " WHERE stream = ? AND column_name = ? AND key_path = '{}'",
            stream, profile.column()).fetchOne(0, Long.class) == 0;
        var newKeys = new ArrayList<String>();
        var changes = new ArrayList<String>();
        var now = new HashMap<List<String>, List<String>>();
        for (KeyTypes key : profile.keys()) {
            now.put(key.path(), key.valueTypes());
            List<String> before = previous.get(key.path());
            if (before == null) {
                newKeys.add(String.join(".", key.path()));
            } else if (!Objects.equals(before, key.valueTypes())) {
                changes.add("%s: %s -> %s".formatted(String.join(".", key.path()), names(before), names(key.valueTypes())));
            }
        }
        List<String> vanished = previous.keySet().stream().filter(p -> !now.containsKey(p)).map(p -> String.join(".", p)).sorted().toList();
        return first ? new Drift(true, List.of(), List.of(), List.of()) : new Drift(false, newKeys, vanished, changes);
    }

    private static String names(List<String> types) {
        return types.isEmpty() ? "null only" : String.join(" or ", types);
    }

    private static List<String> valueTypes(String countsJson) {
        try {
            return JSON.readTree(countsJson).properties().stream().map(Map.Entry::getKey).filter(t -> !t.equals("null")).sorted().toList();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("extraction_json_keys holds types that are not JSON: " + countsJson, e);
        }
    }

    private static String json(Map<String, Long> counts) {
        try {
            return JSON.writeValueAsString(counts);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private String table() {
        return TableRef.of(schema, "extraction_json_keys").sql();
    }
}
