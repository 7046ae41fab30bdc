package datakit.config;

import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The server settings in a libpq {@code options} value ({@code -c work_mem=64MB --search_path=app}), read
 * the way the server reads its {@code options} startup parameter: words split on whitespace, a backslash
 * keeps the next character (an escaped space stays in the value), {@code -c name=value}, {@code -cname=value}
 * and {@code --name=value}, dashes in a name read as underscores. The datakits apply them at the start of
 * each transaction rather than at connection start, where connection poolers refuse or drop them.
 */
final class ServerOptions {
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.]*");
    /** A transaction's modes, and with {@code default_} the defaults a transaction takes them from when it begins. */
    private static final Set<String> TRANSACTION_MODES = Set.of("transaction_isolation", "transaction_read_only", "transaction_deferrable");

    private ServerOptions() {
    }

    /** The settings by name, in the order given (a later one wins), or what is wrong with {@code options}. */
    public static Map<String, String> parse(String options) {
        var settings = new LinkedHashMap<String, String>();
        var words = words(options);
        for (int i = 0; i < words.size(); i++) {
            String word = words.get(i);
            String setting;
            if (word.equals("-c")) {
                if (i + 1 >= words.size()) {
                    throw new IllegalArgumentException("the -c at the end has no name=value after it");
                }
                setting = words.get(++i);
            } else if (word.startsWith("-c")) {
                setting = word.substring(2);
            } else if (word.startsWith("--")) {
                setting = word.substring(2);
            } else {
                throw new IllegalArgumentException("\"" + word + "\" is not a setting");
            }
            int eq = setting.indexOf('=');
            String name = eq < 0 ? setting : setting.substring(0, eq).replace('-', '_');
            if (eq < 0 || !NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("\"" + setting + "\" is not name=value");
            }
            settings.put(name.toLowerCase(Locale.ROOT), setting.substring(eq + 1));
        }
        return settings;
    }

    /** What is wrong with {@code options}, if anything. */
    static Optional<String> problem(String options) {
        try {
            parse(options);
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.of(e.getMessage());
        }
    }

    /**
     * Why a setting of {@code settings} cannot act as it would at connection start when the datakits apply it at the
     * start of each transaction instead, if one cannot; {@code login} is the user the connection logs in as. On the
     * warehouse a role would hold for the loads but not for Flyway's migrations, which create the bronze schema and
     * its bookkeeping as the login; a transaction's modes are taken as it begins, before any setting of it.
     */
    static Optional<String> unsupported(Role role, Map<String, String> settings, String login) {
        for (String name : List.of("role", "session_authorization")) {
            if (role == Role.WAREHOUSE && settings.containsKey(name)) {
                return Optional.of(("sets %s, which the datakits cannot apply to every connection: Flyway's migrations run without "
                    + "the settings of each transaction, and would create the bronze schema as the login. Make the role the login's "
                    + "default instead, which holds on every connection and through a pooler: ALTER ROLE %s SET role = %s")
                    .formatted(name, TableRef.display(login), TableRef.display(settings.get(name))));
            }
        }
        for (String name : settings.keySet()) {
            if (TRANSACTION_MODES.contains(name.startsWith("default_") ? name.substring("default_".length()) : name)) {
                return Optional.of(("sets %s, which a transaction takes as it begins, and the datakits apply the options inside each "
                    + "transaction, whose isolation and read-only mode they choose themselves").formatted(name));
            }
        }
        return Optional.empty();
    }

    private static List<String> words(String options) {
        var words = new ArrayList<String>();
        var word = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < options.length(); i++) {
            char c = options.charAt(i);
            if (c == '\\' && i + 1 < options.length()) {
                word.append(options.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            } else {
                word.append(c);
                inWord = true;
            }
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }
}
