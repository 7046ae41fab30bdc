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
    private static final String NAME = "(?:\"((?:[^\"]|\"\")+)\"|([^\\s\"(),;]+))";
    private static final List<Fix> FIXES = List.of(
        new Fix("permission denied for database " + NAME + ".*CONNECT privilege", (side, name) -> "GRANT CONNECT ON DATABASE " + name),
        new Fix("permission denied for database " + NAME, (side, name) -> "GRANT CREATE ON DATABASE " + name),
        new Fix("permission denied to create temporary tables in database " + NAME, (side, name) -> "GRANT TEMPORARY ON DATABASE " + name),
        new Fix("permission denied for schema " + NAME, (side, name) -> side == Role.SOURCE ? "GRANT USAGE ON SCHEMA " + name
            : "GRANT USAGE, CREATE ON SCHEMA " + name),
        new Fix("permission denied for (?:table|view|materialized view) " + NAME, (side, name) -> side == Role.SOURCE
            ? "GRANT SELECT ON " + name : "ALTER TABLE " + name + " OWNER"),
        new Fix("permission denied for sequence " + NAME, (side, name) -> "GRANT SELECT ON SEQUENCE " + name),
        new Fix("permission denied for large object (\\d+)()", (side, name) -> "GRANT SELECT ON LARGE OBJECT " + name),
        new Fix("permission denied for function " + NAME, (side, name) -> "GRANT EXECUTE ON FUNCTION " + name),
        new Fix("must be owner of (?:table|relation|view|materialized view|index) " + NAME, (side, name) -> "ALTER TABLE " + name + " OWNER"),
        new Fix("must be owner of schema " + NAME, (side, name) -> "ALTER SCHEMA " + name + " OWNER"));

    private record Fix(Pattern pattern, BiFunction<Role, String, String> statement) {
        Fix(String regex, BiFunction<Role, String, String> statement) {
            this(Pattern.compile(regex), statement);
        }
    }

    private Grants() {
    }

    /**
     * The statement to run as an owner or superuser ({@code GRANT USAGE ON SCHEMA sales TO reader;}), if the
     * server's {@code message} is a permission error this knows. A table named without its schema keeps the
     * server's name, unless {@code known} is that table.
     */
    public static Optional<String> fix(String message, Role side, String role, Optional<TableRef> known) {
        for (Fix fix : FIXES) {
            Matcher m = fix.pattern().matcher(message);
            if (m.find()) {
                String name = m.group(1) != null && !m.group(1).isEmpty() ? m.group(1).replace("\"\"", "\"") : m.group(2);
                // A large object is named by its number, every other object by its identifier.
                String object = name.chars().allMatch(Character::isDigit) ? name
                    : known.filter(t -> t.table().equals(name)).map(TableRef::toString).orElse(TableRef.display(name));
                String statement = fix.statement().apply(side, object);
                return Optional.of(statement + " TO " + TableRef.display(role) + ";");
            }
        }
        return Optional.empty();
    }
}
