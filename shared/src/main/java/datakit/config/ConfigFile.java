package datakit.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import datakit.error.DatakitException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A {@code --config} file of option values, YAML or JSON, with the keys the options' variables have in
 * lower case: {@code cursor_field: updated_at}, {@code primary_key: [id]}, {@code sync_mode: incremental}.
 * Lists become comma-separated values. Secrets do not belong here: connection settings come from the
 * environment and .env only.
 */
public final class ConfigFile {
    private ConfigFile() {
    }

    /** A file that does not parse, in one line: the parser's first line and where it stopped. */
    public static DatakitException notValid(Path file, JacksonException e) {
        String problem = e.getOriginalMessage().lines().findFirst().orElse("cannot be parsed");
        String where = e.getLocation() == null ? "" : " (line %d, column %d)".formatted(e.getLocation().getLineNr(), e.getLocation().getColumnNr());
        return DatakitException.badInput("%s is not valid YAML or JSON: %s%s. Fix the file.", file, problem, where);
    }

    /** The file's values by upper-case variable name ({@code CURSOR_FIELD}). */
    public static Map<String, String> read(Path file) {
        JsonNode root;
        try {
            root = new YAMLMapper().readTree(Files.readString(file));
        } catch (JacksonException e) {
            throw notValid(file, e);
        } catch (NoSuchFileException e) {
            throw DatakitException.badInput("The --config file %s does not exist. Check the path.", file);
        } catch (IOException e) {
            throw DatakitException.badInput("Cannot read the --config file %s: %s. Check the path and its permissions.", file, e.getMessage());
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            return Map.of();
        }
        DatakitException.check(root.isObject(), "%s must hold key: value pairs (a YAML mapping or a JSON object).", file);
        var values = new LinkedHashMap<String, String>();
        root.fields().forEachRemaining(entry -> values.put(
            entry.getKey().toUpperCase(Locale.ROOT).replace('-', '_'), value(file, entry.getKey(), entry.getValue())));
        return values;
    }

    private static String value(Path file, String key, JsonNode node) {
        if (node.isArray()) {
            var items = new ArrayList<String>();
            node.forEach(item -> items.add(scalar(file, key, item)));
            return String.join(",", items);
        }
        return scalar(file, key, node);
    }

    private static String scalar(Path file, String key, JsonNode node) {
        DatakitException.check(node.isValueNode(), "%s: the value of %s must be a value or a list of values, not a nested mapping.",
            file, key);
        return node.asText();
    }

    /** The keys a file may use, for the "unknown key" message. */
    public static List<String> keysOf(List<String> variables) {
        return variables.stream().map(v -> v.toLowerCase(Locale.ROOT)).sorted().toList();
    }
}
