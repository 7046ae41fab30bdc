package datakit.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import datakit.config.ConfigFile;
import datakit.error.DatakitException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A job file: several streams, each a datakit with its options, run in the order their
 * {@code depends_on} give. YAML or JSON:
 * <pre>
 * parallelism: 2
 * defaults: {target-schema: bronze}
 * streams:
 *   orders:
 *     datakit: postgres-incremental
 *     options: {table: sales.orders, cursor-field: updated_at}
 *   order_facts:
 *     datakit: postgres-extract
 *     options: {query: "SELECT ...", target-table: order_facts}
 *     depends_on: [orders]
 * </pre>
 * {@code ${NAME}} in a value is replaced from the environment when the file is read; the file is never
 * written back. Every error names the file, the stream and the key.
 */
public record JobFile(Path path, int parallelism, Map<String, Stream> streams) {
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");
    /** The most streams a runner runs at once: each holds its own connections to both databases. */
    public static final int MAX_PARALLELISM = 32;
    private static final Set<String> TOP_KEYS = Set.of("parallelism", "defaults", "streams");
    private static final Set<String> STREAM_KEYS = Set.of("datakit", "options", "depends_on");

    /** One stream: the datakit's alias, its options as command-line words, the streams it waits for. */
    public record Stream(String name, String datakit, List<String> arguments, Map<String, String> environment, List<String> dependsOn) {
    }

    /**
     * Reads and checks a job file. {@code datakits} are the aliases a stream may name; {@code env} resolves
     * {@code ${NAME}}. Options {@code source} and {@code target} (connection URLs, which may hold passwords)
     * travel to the datakit as SOURCE_DATABASE_URL and WAREHOUSE_DATABASE_URL, never as arguments.
     */
    public static JobFile read(Path path, Set<String> datakits, Function<String, String> env) {
        JsonNode root;
        try {
            root = YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build().readTree(Files.readString(path));
        } catch (JsonProcessingException e) {
            throw ConfigFile.notValid(path, e);
        } catch (IOException e) {
            throw DatakitException.badInput("Cannot read the job file %s: %s. Check --file.", path, e.getMessage());
        }
        DatakitException.check(root != null && root.isObject(), "%s must hold a mapping with streams: (see docs/operations.md).", path);
        unknownKeys(path, "", root, TOP_KEYS);
        int parallelism = root.path("parallelism").asInt(1);
        DatakitException.check(parallelism >= 1 && parallelism <= MAX_PARALLELISM, "%s: parallelism must be between 1 and %d, not %s.",
            path, MAX_PARALLELISM, root.path("parallelism").asText());
        JsonNode defaults = root.path("defaults");
        JsonNode streamsNode = root.path("streams");
        DatakitException.check(streamsNode.isObject() && !streamsNode.isEmpty(), "%s: streams: must name at least one stream.", path);
        var streams = new LinkedHashMap<String, Stream>();
        streamsNode.fields().forEachRemaining(e -> streams.put(e.getKey(), stream(path, e.getKey(), e.getValue(), defaults, datakits, env)));
        for (Stream stream : streams.values()) {
            for (String dependency : stream.dependsOn()) {
                DatakitException.check(streams.containsKey(dependency), "%s: stream %s: depends_on names %s, which is not a stream of the file.",
                    path, stream.name(), dependency);
            }
        }
        checkNoCycle(path, streams);
        return new JobFile(path, parallelism, streams);
    }

    private static Stream stream(Path path, String name, JsonNode node, JsonNode defaults, Set<String> datakits, Function<String, String> env) {
        DatakitException.check(node.isObject(), "%s: stream %s must be a mapping with datakit: and options:.", path, name);
        unknownKeys(path, "stream " + name + ": ", node, STREAM_KEYS);
        String datakit = node.path("datakit").asText("");
        DatakitException.check(datakits.contains(datakit), "%s: stream %s: datakit %s is not one the runner knows. Use one of: %s.", path, name,
            datakit.isEmpty() ? "(missing)" : datakit, String.join(", ", datakits.stream().sorted().toList()));
        var options = new LinkedHashMap<String, JsonNode>();
        if (defaults.isObject()) {
            defaults.fields().forEachRemaining(e -> options.put(e.getKey(), e.getValue()));
        }
        JsonNode own = node.path("options");
        DatakitException.check(own.isMissingNode() || own.isObject(), "%s: stream %s: options must be a mapping of option: value.", path, name);
        own.fields().forEachRemaining(e -> options.put(e.getKey(), e.getValue()));
        var arguments = new ArrayList<String>();
        var environment = new LinkedHashMap<String, String>();
        options.forEach((key, value) -> {
            String where = "stream " + name + ": options." + key;
            DatakitException.check(key.matches("[a-z][a-z0-9-]*"), "%s: %s: an option is written as on the command line, without "
                + "dashes (cursor-field).", path, where);
            DatakitException.check(!key.equals("follow") || !value.asBoolean(), "%s: %s: a job file runs its streams to their end, and a "
                + "followed change stream never ends. Run it as a service of its own (docs/scheduling.md), or drop follow for bounded runs.",
                path, where);
            List<String> values = new ArrayList<>();
            if (value.isArray()) {
                value.forEach(v -> values.add(scalar(path, where, v, env)));
            } else {
                values.add(scalar(path, where, value, env));
            }
            if (key.equals("source") || key.equals("target")) {
                environment.put(key.equals("source") ? "SOURCE_DATABASE_URL" : "WAREHOUSE_DATABASE_URL", values.get(0));
            } else if (value.isBoolean()) {
                if (value.asBoolean()) {
                    arguments.add("--" + key);
                }
            } else {
                values.forEach(v -> {
                    arguments.add("--" + key);
                    arguments.add(v);
                });
            }
        });
        var dependsOn = new ArrayList<String>();
        JsonNode depends = node.path("depends_on");
        if (depends.isTextual()) {
            dependsOn.add(depends.asText());
        } else if (depends.isArray()) {
            depends.forEach(d -> dependsOn.add(d.asText()));
        } else {
            DatakitException.check(depends.isMissingNode(), "%s: stream %s: depends_on must be a stream name or a list of them.", path, name);
        }
        return new Stream(name, datakit, arguments, environment, dependsOn);
    }

    /** A value as text, with ${NAME} replaced from the environment. */
    private static String scalar(Path path, String where, JsonNode value, Function<String, String> env) {
        DatakitException.check(value.isValueNode() && !value.isNull(), "%s: %s must be a value (text, number or true/false).", path, where);
        Matcher m = VARIABLE.matcher(value.asText());
        var resolved = new StringBuilder();
        while (m.find()) {
            String variable = env.apply(m.group(1));
            DatakitException.check(variable != null, "%s: %s: ${%s} is not set in the environment. Set it, or write the value.", path, where,
                m.group(1));
            m.appendReplacement(resolved, Matcher.quoteReplacement(variable));
        }
        m.appendTail(resolved);
        return resolved.toString();
    }

    private static void unknownKeys(Path path, String where, JsonNode node, Set<String> known) {
        node.fieldNames().forEachRemaining(key -> DatakitException.check(known.contains(key), "%s: %sunknown key %s. Known keys: %s.", path,
            where, key, String.join(", ", known.stream().sorted().toList())));
    }

    private static void checkNoCycle(Path path, Map<String, Stream> streams) {
        var done = new LinkedHashSet<String>();
        for (String name : streams.keySet()) {
            visit(path, streams, name, new LinkedHashSet<>(), done);
        }
    }

    private static void visit(Path path, Map<String, Stream> streams, String name, LinkedHashSet<String> onPath, Set<String> done) {
        if (done.contains(name)) {
            return;
        }
        DatakitException.check(onPath.add(name), "%s: streams %s depend on each other in a cycle. Remove one depends_on.", path,
            String.join(" -> ", onPath) + " -> " + name);
        for (String dependency : streams.get(name).dependsOn()) {
            visit(path, streams, dependency, onPath, done);
        }
        onPath.remove(name);
        done.add(name);
    }
}
