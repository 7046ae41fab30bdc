package datakit.sql;

import datakit.error.DatakitException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A table name pattern with psql's rules (the {@code \dt} patterns, PostgreSQL's {@code processSQLNamePattern}), so that
 * {@code --table 'shop.*'} selects what {@code \dt shop.*} lists. Each part becomes an anchored POSIX regular expression the
 * server matches against {@code pg_namespace.nspname} and {@code pg_class.relname} as bind values:
 * <ul>
 *   <li>{@code *} is any sequence, {@code ?} one character, {@code .} separates the schema from the table;</li>
 *   <li>unquoted letters A-Z fold to lower case (other letters stay as typed, as PostgreSQL folds identifiers in UTF-8);</li>
 *   <li>in double quotes everything is literal and keeps its case, {@code *}, {@code ?} and {@code .} included, and
 *       {@code ""} is one quote; quotes may cover part of a name ({@code "Ord"*});</li>
 *   <li>outside quotes, other regular-expression characters keep their meaning ({@code order(s|_items)}), except
 *       {@code $}, always literal, and {@code []}, literal as a pair;</li>
 * </ul>
 * Where psql's rules do not apply, ours: a pattern without a dot means a table in {@code public} (as {@link TableRef#parse}
 * does; psql would look along the search path); a pattern with two dots is refused (psql takes the first part as the
 * database); an empty pattern or part, and an unclosed quote, are refused (psql would match nothing or everything).
 *
 * @param text        the pattern as the user gave it, for messages
 * @param option      the option it came from ({@code --table}, {@code --exclude-table}, {@code --schema})
 * @param schemaRegex the anchored regular expression for the schema
 * @param tableRegex  the anchored regular expression for the table
 * @param exact       the one table the pattern names when it has no wildcard or regular-expression character outside quotes
 */
public record TablePattern(String text, String option, String schemaRegex, String tableRegex, Optional<TableRef> exact) {
    /** The schema of a pattern without a dot, as {@link TableRef#parse} assumes for a bare table name. */
    public static final String DEFAULT_SCHEMA = "public";
    /** Characters a quoted part escapes (psql's list); outside quotes they are the user's regular expression. */
    private static final String REGEX_SPECIAL = "|*+?()[]{}.^$\\";
    private static final String ANY = "^(.*)$";

    /** PostgreSQL's NAMEDATALEN - 1. */
    private static final int MAX_NAME_BYTES = 63;

    /** Parses a {@code --table} or {@code --exclude-table} value: {@code shop.*}, {@code "My Shop"."Order*"}, {@code orders}. */
    public static TablePattern parse(String text, String option) {
        List<Part> parts = parts(text, option);
        DatakitException.check(parts.size() <= 2, "%s pattern \"%s\" has %d dots outside double quotes; give schema.table, and quote a "
            + "name that contains a dot: '\"my.table\"'.", option, text, parts.size() - 1);
        for (Part part : parts) {
            part.literal().ifPresent(name -> {
                int bytes = name.getBytes(StandardCharsets.UTF_8).length;
                DatakitException.check(bytes <= MAX_NAME_BYTES, "%s pattern \"%s\" names %s, %d bytes long: PostgreSQL names are at most %d "
                    + "bytes, so no table has it. Check the name (the server cut it at %d bytes when it was created).", option, text,
                    TableRef.display(name), bytes, MAX_NAME_BYTES, MAX_NAME_BYTES);
            });
        }
        if (parts.size() == 1) {
            Part table = parts.get(0);
            return new TablePattern(text, option, literal(DEFAULT_SCHEMA), table.regex(),
                table.literal().map(name -> TableRef.of(DEFAULT_SCHEMA, name)));
        }
        Part schema = parts.get(0);
        Part table = parts.get(1);
        Optional<TableRef> exact = schema.literal().isPresent() && table.literal().isPresent()
            ? Optional.of(TableRef.of(schema.literal().get(), table.literal().get())) : Optional.empty();
        return new TablePattern(text, option, schema.regex(), table.regex(), exact);
    }

    /** Parses a {@code --schema} value: every table of the schemas it matches, as {@code <schema>.*}. */
    public static TablePattern schema(String text, String option) {
        List<Part> parts = parts(text, option);
        DatakitException.check(parts.size() == 1, "%s pattern \"%s\" names a table; give only the schema (quote a schema name that "
            + "contains a dot: '\"my.schema\"'), or select tables with --table.", option, text);
        return new TablePattern(text, option, parts.get(0).regex(), ANY, Optional.empty());
    }

    /** How the user wrote it and where: {@code shop.* (--table)}. */
    @Override
    public String toString() {
        return text + " (" + option + ")";
    }

    /** A part's regular expression, and the name it stands for when it holds no wildcard. */
    private record Part(String regex, Optional<String> literal) {
    }

    /** psql's scan: quotes, case folding, wildcards and separators, one part per dot outside quotes. */
    private static List<Part> parts(String text, String option) {
        DatakitException.check(text != null && !text.isBlank(), "%s pattern is empty. Give a table name or a pattern such as shop.*.", option);
        // Spaces around a pattern are the shell's, never psql's (its own parser splits arguments at them).
        String pattern = text.strip();
        var parts = new ArrayList<Part>();
        var regex = new StringBuilder();
        var literal = new StringBuilder();
        boolean wildcard = false;
        boolean inQuotes = false;
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            char next = i + 1 < pattern.length() ? pattern.charAt(i + 1) : 0;
            if (c == '"') {
                if (inQuotes && next == '"') {
                    regex.append('"');
                    literal.append('"');
                    i++;
                } else {
                    inQuotes = !inQuotes;
                }
            } else if (!inQuotes && c >= 'A' && c <= 'Z') {
                regex.append((char) (c + ('a' - 'A')));
                literal.append((char) (c + ('a' - 'A')));
            } else if (!inQuotes && c == '*') {
                regex.append(".*");
                wildcard = true;
            } else if (!inQuotes && c == '?') {
                regex.append('.');
                wildcard = true;
            } else if (!inQuotes && c == '.') {
                parts.add(part(regex, literal, wildcard, text, option));
                regex.setLength(0);
                literal.setLength(0);
                wildcard = false;
            } else if (c == '$') {
                // Always literal, in quotes or not: identifiers may contain it, and the pattern is anchored anyway.
                regex.append("\\$");
                literal.append('$');
            } else {
                if (inQuotes && REGEX_SPECIAL.indexOf(c) >= 0) {
                    regex.append('\\');
                } else if (c == '[' && next == ']') {
                    // psql: "[]" is far more likely an array type's name than a bracket expression.
                    regex.append("\\[]");
                    literal.append("[]");
                    i++;
                    continue;
                } else if (!inQuotes && REGEX_SPECIAL.indexOf(c) >= 0) {
                    wildcard = true;
                }
                regex.append(c);
                literal.append(c);
            }
        }
        DatakitException.check(!inQuotes, "%s pattern \"%s\" has an unclosed double quote. Close it (a quote inside a quoted name is "
            + "written twice: \"say\"\"hi\"), or drop the quotes.", option, text);
        parts.add(part(regex, literal, wildcard, text, option));
        return parts;
    }

    private static Part part(StringBuilder regex, StringBuilder literal, boolean wildcard, String text, String option) {
        DatakitException.check(!regex.isEmpty(), "%s pattern \"%s\" has an empty name (a stray dot or \"\"). Give schema.table, or "
            + "schema.* for every table of a schema.", option, text);
        return new Part("^(" + regex + ")$", wildcard ? Optional.empty() : Optional.of(literal.toString()));
    }

    private static String literal(String name) {
        var regex = new StringBuilder("^(");
        for (char c : name.toCharArray()) {
            regex.append(REGEX_SPECIAL.indexOf(c) >= 0 ? "\\" : "").append(c);
        }
        return regex.append(")$").toString();
    }
}
