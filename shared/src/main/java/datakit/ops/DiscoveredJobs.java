package datakit.ops;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.report.Sizes;
import datakit.run.LoadChoice;
import datakit.sql.Identifiers;
import datakit.sql.TableRef;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * {@code postgres-discover --emit-jobs}: the tables discovery found, as a bronze-jobs file of one stream per table
 * (views and foreign tables left out), each with the datakit and options {@link LoadChoice} chooses and comments
 * that say why, for users to review and keep. A file already there is never replaced without {@code --force}:
 * it may hold their edits.
 */
public final class DiscoveredJobs {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WIDTH = 116;

    private DiscoveredJobs() {
    }

    /** The job file's text, and what it holds: each stream's datakit, and what was left out. */
    public record Emitted(String yaml, Map<String, String> streams, List<String> leftOut) {
    }

    /** Refuses, before anything is read, to write over a file unless {@code force}. */
    public static void checkTarget(Path file, boolean force) {
        DatakitException.check(isStdout(file) || force || !Files.exists(file), "%s exists already, and postgres-discover does not write "
            + "over a job file that may hold your edits. Pass --force to replace it, or give another file to --emit-jobs.", file);
    }

    /**
     * Writes the job file for {@code tables} ({@link Discovery#tables}) to {@code file} ({@code -}: stdout), or with
     * --dry-run prints it and writes nothing; then a line (or --json object) saying what it holds.
     */
    public static void emit(RunContext run, Path file, boolean force, Database source, List<String> schemas, List<Map<String, Object>> tables) {
        Emitted emitted = emitted(source.settings().describe(), schemas, tables);
        if (isStdout(file) || run.dryRun()) {
            run.out().print(emitted.yaml());
            run.out().flush();
            if (run.dryRun() && !isStdout(file)) {
                run.err().println("postgres-discover: dry run, " + file + " not written");
                run.err().flush();
            }
            return;
        }
        checkTarget(file, force);
        write(file, force, emitted.yaml());
        if (run.json()) {
            run.out().println(RunSummary.toJson(Map.of("file", file.toString(), "streams", emitted.streams(), "left_out", emitted.leftOut())));
        } else {
            run.out().println("postgres-discover: wrote %s: %d streams (%s)%s".formatted(file, emitted.streams().size(),
                emitted.streams().values().stream().collect(Collectors.groupingBy(Function.identity(), java.util.TreeMap::new, Collectors.counting()))
                    .entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).collect(Collectors.joining(", ")),
                emitted.leftOut().isEmpty() ? "" : "; left out: " + String.join(", ", emitted.leftOut())));
        }
        run.out().flush();
    }

    /** The job file for {@code tables}: streams in the order of their schema and table names, so a new run diffs cleanly. */
    public static Emitted emitted(String database, List<String> schemas, List<Map<String, Object>> tables) {
        var loadable = new ArrayList<LoadChoice.Table>();
        var leftOut = new ArrayList<String>();
        for (Map<String, Object> t : tables) {
            TableRef ref = TableRef.of((String) t.get("schema"), (String) t.get("table"));
            String kind = (String) t.get("kind");
            if (!kind.endsWith("table") || kind.equals("foreign table")) {
                leftOut.add(kind + " " + ref);
            } else if (ref.toString().contains("${")) {
                // JobFile reads ${NAME} in a value as an environment variable, and has no way to write it literally.
                leftOut.add(kind + " " + ref + " (its name holds ${, which a job file reads as a variable)");
            } else {
                loadable.add(facts(ref, t));
            }
        }
        String where = (schemas.isEmpty() ? "the source " : (schemas.size() > 1 ? "schemas " : "schema ") + String.join(", ", schemas.stream().map(TableRef::display).toList())
            + " of ") + database;
        DatakitException.check(!loadable.isEmpty(), "%s holds no table to load%s, so there is no job file to write. Check --schema: names fold "
            + "to lower case unless quoted (--schema '\"Sales\"').", where, leftOut.isEmpty() ? "" : " (left out: " + String.join(", ", leftOut) + ")");
        loadable.sort(Comparator.comparing((LoadChoice.Table t) -> t.ref().schema()).thenComparing(t -> t.ref().table()));
        Map<String, Long> sameName = loadable.stream().collect(Collectors.groupingBy(t -> t.ref().table(), Collectors.counting()));

        var yaml = new StringBuilder();
        comment(yaml, "", "A bronze-jobs file for " + where + ", written by postgres-discover --emit-jobs from the catalog (no table was read). "
            + "Review it, keep it, and run it with: ./jbang bronze-jobs --file FILE (--dry-run first shows what each stream would do).");
        comment(yaml, "", "Each stream's datakit follows one rule (docs/operations.md#writing-a-job-file---emit-jobs):");
        LoadChoice.RULE.forEach(line -> yaml.append("#   ").append(line).append('\n'));
        comment(yaml, "", "Connections come from the environment of bronze-jobs (SOURCE_DATABASE_URL, WAREHOUSE_DATABASE_URL, .env), so no "
            + "password is written here; add source: ${NAME} under defaults to name another. Streams land in the bronze schema "
            + "(BRONZE_SCHEMA, else bronze; target-schema under defaults).");
        if (!leftOut.isEmpty()) {
            comment(yaml, "", "Left out: " + String.join(", ", leftOut) + ". Add a postgres-extract stream by hand for any you want.");
        }
        yaml.append("parallelism: 1   # streams at once; each holds its own connections to both databases\n");
        yaml.append("streams:\n");
        var streams = new LinkedHashMap<String, String>();
        var loadedAs = new LinkedHashMap<String, String>();
        for (LoadChoice.Table table : loadable) {
            LoadChoice choice = LoadChoice.of(table, Optional.empty());
            Map<String, String> options = choice.options(table.ref());
            String name = table.ref().table();
            if (sameName.get(name) > 1) {
                // Every schema's table of that name would land in the same bronze table.
                name = Identifiers.fit(table.ref().schema() + "_" + table.ref().table());
                options.put("target-table", TableRef.display(name));
            }
            // A renamed stream may meet another table's own name: bronze-jobs would then keep one of them only.
            DatakitException.check(!streams.containsKey(name) && !loadedAs.containsKey(name), "Two tables would load into the bronze "
                + "table %s: %s and %s. Emit their schemas one at a time (--schema), or write the job file by hand.", TableRef.display(name),
                Optional.ofNullable(loadedAs.get(name)).orElse(name), table.ref());
            loadedAs.put(name, table.ref().toString());
            streams.put(name, choice.datakit());
            yaml.append("\n  ").append(quote(name)).append(":\n");
            comment(yaml, "    ", table.ref() + describe(table) + ": " + choice.why());
            choice.notes().forEach(note -> comment(yaml, "    ", "Note: " + note));
            if (options.containsKey("target-table")) {
                comment(yaml, "    ", "Its name is taken by a table of another schema here: it lands in bronze as " + options.get("target-table") + ".");
            }
            yaml.append("    datakit: ").append(choice.datakit()).append('\n');
            yaml.append("    options:\n");
            options.forEach((key, value) -> yaml.append("      ").append(key).append(": ")
                .append(key.equals("mode") || key.equals("sync-mode") || key.equals("lookback") ? value : quote(value)).append('\n'));
        }
        return new Emitted(yaml.toString(), streams, leftOut);
    }

    /**
     * What {@link LoadChoice} needs of each of {@code tables}, read from the source's catalog as postgres-discover reads it, in
     * one transaction for all of them; a table not found there (dropped since) is left out.
     */
    public static Map<TableRef, LoadChoice.Table> facts(Database source, Collection<TableRef> tables) {
        var facts = new LinkedHashMap<TableRef, LoadChoice.Table>();
        for (Map<String, Object> t : Discovery.selected(source, tables)) {
            TableRef ref = TableRef.of((String) t.get("schema"), (String) t.get("table"));
            facts.put(ref, facts(ref, t));
        }
        return facts;
    }

    @SuppressWarnings("unchecked")
    private static LoadChoice.Table facts(TableRef ref, Map<String, Object> t) {
        List<LoadChoice.Column> columns = ((List<Map<String, Object>>) t.get("columns")).stream()
            .map(c -> new LoadChoice.Column((String) c.get("name"), (String) c.get("type"), Boolean.TRUE.equals(c.get("nullable")))).toList();
        List<LoadChoice.Candidate> candidates = ((List<Map<String, Object>>) t.get("cursor_candidates")).stream()
            .map(c -> new LoadChoice.Candidate((String) c.get("column"), (String) c.get("type"), (String) c.get("why"))).toList();
        Object size = t.get("size_bytes");
        Object rows = t.get("estimated_rows");
        return new LoadChoice.Table(ref, t.containsKey("partitioning"), size == null ? 0 : (Long) size, (List<String>) t.get("primary_key"),
            columns, candidates, rows == null ? -1 : (Long) rows);
    }

    private static String describe(LoadChoice.Table table) {
        return " (" + (table.partitioned() ? "partitioned, " : "") + (table.estimatedRows() < 0 ? "not analyzed" : "~%,d rows".formatted(
            table.estimatedRows())) + ", " + Sizes.bytes(table.sizeBytes()) + ")";
    }

    /** Comment lines, wrapped; a control character in a name cannot end the comment early. */
    private static void comment(StringBuilder yaml, String indent, String text) {
        String flat = text.replaceAll(NOT_PLAIN, "?");
        var line = new StringBuilder();
        for (String word : flat.split(" ")) {
            if (!line.isEmpty() && indent.length() + 2 + line.length() + 1 + word.length() > WIDTH) {
                yaml.append(indent).append("# ").append(line).append('\n');
                line.setLength(0);
            }
            line.append(line.isEmpty() ? "" : " ").append(word);
        }
        yaml.append(indent).append("# ").append(line).append('\n');
    }

    /** A YAML double-quoted scalar: JSON's escapes are YAML's, and quotes keep names such as "on" or "1e3" text. */
    private static String quote(String value) {
        try {
            // JSON's escapes are YAML's too; the characters YAML reads as a line break or refuses are escaped as well.
            return Pattern.compile(NOT_PLAIN).matcher(JSON.writeValueAsString(value))
                .replaceAll(m -> Matcher.quoteReplacement("\\u%04x".formatted((int) m.group().charAt(0))));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Control characters (C0, DEL, C1), line and paragraph separators, and the byte-order mark. */
    private static final String NOT_PLAIN = "[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ufeff]";

    private static void write(Path file, boolean force, String yaml) {
        try {
            if (force && Files.exists(file)) {
                // Written beside it and renamed over it, so a failure leaves the old file whole; with the old file's mode, not
                // the temporary file's private one.
                Path temporary = Files.createTempFile(file.toAbsolutePath().getParent(), ".emit-jobs", ".tmp");
                try {
                    Files.writeString(temporary, yaml);
                    if (Files.getFileStore(file).supportsFileAttributeView("posix")) {
                        Files.setPosixFilePermissions(temporary, Files.getPosixFilePermissions(file));
                    }
                    Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(temporary);
                }
            } else {
                Files.writeString(file, yaml, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
        } catch (FileAlreadyExistsException e) {
            checkTarget(file, false);
        } catch (IOException e) {
            throw DatakitException.badInput("Cannot write %s: %s. Check --emit-jobs.", file, e.getMessage());
        }
    }

    private static boolean isStdout(Path file) {
        return file.toString().equals("-");
    }
}
