package datakit.db;

import datakit.config.Role;
import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The statement that gives a role what a permission error says it lacks, for the hints of one-line
 * errors: the server names the object ({@code permission denied for schema sales}), the datakit knows
 * the role and whether it reads (the source) or loads (the warehouse). See "What each datakit needs on
 * the warehouse" in docs/reliability.md.
 */
public final class Grants {
    /**
     * The server's primary messages, whole: each ends with the object's name as the catalog holds it, unquoted
     * (spaces and all) or, in the messages about connecting and temporary tables, in double quotes. The detail
     * tells a missing CONNECT from a missing CREATE on a database.
     */
    private static final List<Fix> FIXES = List.of(
        new Fix("permission denied for database \"(.+)\"", "CONNECT privilege", (side, name) -> "GRANT CONNECT ON DATABASE " + name),
        new Fix("permission denied for database (.+)", "", (side, name) -> "GRANT CREATE ON DATABASE " + name),
        new Fix("permission denied to create temporary tables in database \"(.+)\"", "", (side, name) -> "GRANT TEMPORARY ON DATABASE " + name),
        new Fix("permission denied for schema (.+)", "", (side, name) -> side == Role.SOURCE ? "GRANT USAGE ON SCHEMA " + name
            : "GRANT USAGE, CREATE ON SCHEMA " + name),
        new Fix("permission denied for (?:table|view|materialized view) (.+)", "", (side, name) -> side == Role.SOURCE
            ? "GRANT SELECT ON " + name : "ALTER TABLE " + name + " OWNER"),
        new Fix("permission denied for sequence (.+)", "", (side, name) -> "GRANT SELECT ON SEQUENCE " + name),
        new Fix("permission denied for large object (\\d+)", "", (side, name) -> "GRANT SELECT ON LARGE OBJECT " + name),
        new Fix("permission denied for function (.+)", "", (side, name) -> "GRANT EXECUTE ON FUNCTION " + name),
        new Fix("must be owner of (?:table|relation|view|materialized view|index) (.+)", "", (side, name) -> "ALTER TABLE " + name + " OWNER"),
        new Fix("must be owner of schema (.+)", "", (side, name) -> "ALTER SCHEMA " + name + " OWNER"));

    private record Fix(Pattern message, String detail, BiFunction<Role, String, String> statement) {
        Fix(String message, String detail, BiFunction<Role, String, String> statement) {
            this(Pattern.compile(message), detail, statement);
        }
    }

    private Grants() {
    }

    /**
     * The statement to run as an owner or superuser ({@code GRANT USAGE ON SCHEMA sales TO reader;}), if the
     * server's error in {@code e} is a permission error this knows. A table named without its schema keeps the
     * server's name, unless {@code known} is that table.
     */
    public static Optional<String> fix(Throwable e, Role side, String role, Optional<TableRef> known) {
        return SqlErrors.serverError(e).flatMap(m -> fix(m.getMessage(), m.getDetail() == null ? "" : m.getDetail(), side, role, known));
    }

    /** The statement for the server's primary {@code message} and its {@code detail} ("" for none). */
    static Optional<String> fix(String message, String detail, Role side, String role, Optional<TableRef> known) {
        for (Fix fix : FIXES) {
            Matcher m = fix.message().matcher(message);
            if (m.matches() && detail.contains(fix.detail())) {
                String name = m.group(1);
                // A large object is named by its number, every other object by its identifier.
                String object = name.chars().allMatch(Character::isDigit) ? name
                    : known.filter(t -> t.table().equals(name)).map(TableRef::toString).orElse(TableRef.display(name));
                return Optional.of(fix.statement().apply(side, object) + " TO " + TableRef.display(role) + ";");
            }
        }
        return Optional.empty();
    }
}
