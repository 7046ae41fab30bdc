package datakit.config;

import datakit.error.DatakitException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parses the two URL forms users paste: libpq's {@code postgresql://user:pass@host:port/db?sslmode=require}
 * (also {@code postgres://}) and PgJDBC's {@code jdbc:postgresql://host:port/db?user=...}. Unknown
 * query parameters are an error in libpq URLs and passed to the driver in JDBC URLs, where users
 * expect every PgJDBC property to work. Error messages never repeat the password.
 *
 * @param params the parameters the URL sets
 * @param driverProperties PgJDBC properties this project does not interpret (JDBC URLs only)
 */
public record ConnectionUrl(Map<PgParam, String> params, Map<String, String> driverProperties) {

    private static final String EXPECTED =
        "Expected postgresql://user:password@host:port/database?sslmode=... or jdbc:postgresql://host:port/database";

    public ConnectionUrl {
        params = Map.copyOf(params);
        driverProperties = Map.copyOf(driverProperties);
    }

    /** Parses {@code url}; {@code origin} names where it came from ({@code --source}, {@code SOURCE_DATABASE_URL}). */
    public static ConnectionUrl parse(String url, String origin) {
        String rest;
        boolean jdbc;
        if (url.startsWith("jdbc:postgresql:")) {
            jdbc = true;
            rest = url.substring("jdbc:postgresql:".length());
            if (!rest.startsWith("//")) {
                // jdbc:postgresql:database is a valid PgJDBC URL: local host, default port.
                rest = "///" + rest;
            }
            rest = rest.substring(2);
        } else if (url.startsWith("postgresql://") || url.startsWith("postgres://")) {
            jdbc = false;
            rest = url.substring(url.indexOf("://") + 3);
        } else {
            throw bad(origin, url, "it does not start with postgresql://, postgres:// or jdbc:postgresql:");
        }
        var params = new EnumMap<PgParam, String>(PgParam.class);
        var driver = new LinkedHashMap<String, String>();

        // Like libpq, user information runs to the last @ before the first /, so a ? in a password
        // does not start the query string.
        int firstSlash = rest.indexOf('/');
        String head = firstSlash < 0 ? rest : rest.substring(0, firstSlash);
        int at = head.lastIndexOf('@');
        if (at >= 0) {
            readUserInfo(head.substring(0, at), params, origin, url);
            rest = rest.substring(at + 1);
        } else if (rest.indexOf('@') > firstSlash && firstSlash >= 0 && queryIndex(rest) > rest.indexOf('@')) {
            throw bad(origin, url, "it has an @ after the first /; percent-encode / and @ in a user name or password (%2F, %40)");
        }
        int queryStart = rest.indexOf('?');
        String query = queryStart < 0 ? "" : rest.substring(queryStart + 1);
        String beforeQuery = queryStart < 0 ? rest : rest.substring(0, queryStart);
        int slash = beforeQuery.indexOf('/');
        String authority = slash < 0 ? beforeQuery : beforeQuery.substring(0, slash);
        String path = slash < 0 ? "" : beforeQuery.substring(slash + 1);

        readHostAndPort(authority, params, origin, url);
        if (!path.isEmpty()) {
            params.put(PgParam.DATABASE, decode(path, origin, url));
        }
        readQuery(query, jdbc, params, driver, origin, url);
        return new ConnectionUrl(params, driver);
    }

    private static int queryIndex(String rest) {
        int q = rest.indexOf('?');
        return q < 0 ? rest.length() : q;
    }

    private static void readUserInfo(String userInfo, Map<PgParam, String> params, String origin, String url) {
        int colon = userInfo.indexOf(':');
        String user = colon < 0 ? userInfo : userInfo.substring(0, colon);
        if (!user.isEmpty()) {
            params.put(PgParam.USERNAME, decode(user, origin, url));
        }
        if (colon >= 0) {
            params.put(PgParam.PASSWORD, decode(userInfo.substring(colon + 1), origin, url));
        }
    }

    private static void readHostAndPort(String hostPort, Map<PgParam, String> params, String origin, String url) {
        if (hostPort.contains(",")) {
            throw bad(origin, url, "it names several hosts; the datakits connect to one host. Give the primary's host");
        }
        String host = hostPort;
        String port = null;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0) {
                throw bad(origin, url, "the IPv6 address has no closing ]");
            }
            host = hostPort.substring(1, close);
            String after = hostPort.substring(close + 1);
            if (after.startsWith(":")) {
                port = after.substring(1);
            } else if (!after.isEmpty()) {
                throw bad(origin, url, "unexpected text after the IPv6 address");
            }
        } else {
            int colon = hostPort.lastIndexOf(':');
            if (colon >= 0) {
                host = hostPort.substring(0, colon);
                port = hostPort.substring(colon + 1);
            }
        }
        if (!host.isEmpty()) {
            params.put(PgParam.HOST, decode(host, origin, url));
        }
        if (port != null && !port.isEmpty()) {
            params.put(PgParam.PORT, port);
        }
    }

    private static void readQuery(String query, boolean jdbc, Map<PgParam, String> params,
                                  Map<String, String> driver, String origin, String url) {
        var seenPreferred = new EnumMap<PgParam, Boolean>(PgParam.class);
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = decode(eq < 0 ? pair : pair.substring(0, eq), origin, url);
            String value = eq < 0 ? "" : decode(pair.substring(eq + 1), origin, url);
            var param = PgParam.forQueryName(name);
            if (param.isPresent()) {
                // "database" beats "dbname" and "username" beats "user", whatever their order.
                boolean preferred = param.get().preferredName(name);
                if (preferred || !seenPreferred.getOrDefault(param.get(), false)) {
                    params.put(param.get(), value);
                }
                seenPreferred.merge(param.get(), preferred, Boolean::logicalOr);
            } else if (jdbc) {
                driver.put(name, value);
            } else {
                throw bad(origin, url, "parameter \"" + name + "\" is not one the datakits understand. Known: "
                    + PgParam.knownQueryNames() + ". Use a jdbc:postgresql:// URL to pass other PgJDBC properties");
            }
        }
    }

    private static String decode(String s, String origin, String url) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        var bytes = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0 || Character.digit(s.charAt(i + 2), 16) < 0) {
                    throw bad(origin, url, "it has a % that is not followed by two hex digits (write a literal % as %25)");
                }
                bytes.write(Integer.parseInt(s.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                bytes.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static DatakitException bad(String origin, String url, String why) {
        return DatakitException.badInput("%s is not a valid PostgreSQL URL (%s): %s. %s.",
            origin, mask(url), why, EXPECTED);
    }

    /**
     * Free text (an error message, echoed arguments) with the passwords of any URLs in it replaced by
     * {@code ****}: user information up to the last @ of a word, and {@code password=} parameters.
     */
    public static String maskText(String text) {
        return text.replaceAll("(//[^\\s/@:]*:)\\S*@", "$1****@").replaceAll("(?i)(password=)[^&\\s'\"]*", "$1****");
    }

    /**
     * The URL with any password replaced by {@code ****}, safe to print. It masks generously: a malformed
     * URL (an unencoded / or @ in the password) must not leak the password's tail either.
     */
    static String mask(String url) {
        String masked = url.replaceAll("(?i)([?&;]\\w*password=)[^&]*", "$1****");
        int at = masked.lastIndexOf('@');
        if (at < 0) {
            return masked;
        }
        int slashes = masked.lastIndexOf("//", at);
        int userStart = slashes < 0 ? 0 : slashes + 2;
        int colon = masked.indexOf(':', userStart);
        if (colon >= 0 && colon < at) {
            masked = masked.substring(0, colon + 1) + "****" + masked.substring(at);
        }
        return masked;
    }
}
