package datakit.bronze;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which type changes a bronze column can follow in place, without losing or changing a value it holds: a pure rule on
 * the types as {@code format_type} prints them. A widening keeps every value and its order (so a cursor or a key that
 * widens keeps working): smallint to integer to bigint to numeric, a numeric with room for as many digits before and
 * after the point, real to double precision, a longer varchar or text, more fractional digits of a timestamp or time,
 * a longer bit varying, and arrays of any of these. Anything else (text to integer, integer to text, char(n) to
 * char(m), which pads values differently) is not a widening.
 */
public final class TypeWidening {
    private static final Pattern MODIFIED = Pattern.compile("^([a-z ]+?)(?:\\((\\d+)(?:,(\\d+))?\\))?( with(?:out)? time zone)?$");
    /** Digits before the point each integer type needs, in a numeric(p, s): p - s at least this. */
    private static final Map<String, Integer> INTEGER_DIGITS = Map.of("smallint", 5, "integer", 10, "bigint", 19);
    private static final Map<String, Integer> INTEGER_RANK = Map.of("smallint", 1, "integer", 2, "bigint", 3);

    private TypeWidening() {
    }

    /** Whether a column of type {@code from} can become {@code to} keeping every value and its order. */
    public static boolean widens(String from, String to) {
        if (from.equals(to)) {
            return true;
        }
        if (from.endsWith("[]") && to.endsWith("[]")) {
            return widens(from.substring(0, from.length() - 2), to.substring(0, to.length() - 2));
        }
        Optional<Type> a = Type.parse(from);
        Optional<Type> b = Type.parse(to);
        return a.isPresent() && b.isPresent() && widens(a.get(), b.get());
    }

    private static boolean widens(Type a, Type b) {
        if (INTEGER_RANK.containsKey(a.name)) {
            return INTEGER_RANK.containsKey(b.name) ? INTEGER_RANK.get(a.name) <= INTEGER_RANK.get(b.name)
                : b.name.equals("numeric") && (b.precision == null || b.precision - b.scale() >= INTEGER_DIGITS.get(a.name));
        }
        return switch (a.name) {
            case "numeric" -> b.name.equals("numeric") && (b.precision == null
                || a.precision != null && b.scale() >= a.scale() && b.precision - b.scale() >= a.precision - a.scale());
            case "real" -> b.name.equals("double precision");
            case "character varying" -> b.name.equals("text") || b.name.equals("character varying") && longer(a, b);
            case "text" -> b.name.equals("character varying") && b.precision == null;
            case "bit varying", "timestamp", "time" -> b.name.equals(a.name) && a.zone.equals(b.zone) && longer(a, b);
            default -> false;
        };
    }

    /** Whether {@code b}'s length or precision holds {@code a}'s: none given means no limit (timestamps: 6, the most). */
    private static boolean longer(Type a, Type b) {
        return b.precision == null || a.precision != null && a.precision <= b.precision;
    }

    private record Type(String name, Integer precision, Integer scaleOrNull, String zone) {
        static Optional<Type> parse(String formatted) {
            Matcher m = MODIFIED.matcher(formatted);
            if (!m.matches()) {
                return Optional.empty();
            }
            return Optional.of(new Type(m.group(1).trim(), m.group(2) == null ? null : Integer.valueOf(m.group(2)),
                m.group(3) == null ? null : Integer.valueOf(m.group(3)), m.group(4) == null ? "" : m.group(4).trim()));
        }

        int scale() {
            return scaleOrNull == null ? 0 : scaleOrNull;
        }
    }
}
