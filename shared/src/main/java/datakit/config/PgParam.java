package datakit.config;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The connection parameters a datakit understands, with every name they go by: libpq's keyword (also
 * the URL query name and the {@code SOURCE_PG_*} suffix), an alias where libpq has two spellings (the
 * first name wins when both are given), the libpq environment fallback ({@code PGHOST}...), and
 * PgJDBC's property name, so {@code jdbc:postgresql://} URLs keep working.
 */
public enum PgParam {
    HOST(List.of("host"), "PGHOST", null),
    PORT(List.of("port"), "PGPORT", null),
    DATABASE(List.of("database", "dbname"), "PGDATABASE", null),
    USERNAME(List.of("username", "user"), "PGUSER", "user"),
    PASSWORD(List.of("password"), "PGPASSWORD", "password"),
    SSLMODE(List.of("sslmode"), "PGSSLMODE", "sslmode"),
    SSLCERT(List.of("sslcert"), "PGSSLCERT", "sslcert"),
    SSLKEY(List.of("sslkey"), "PGSSLKEY", "sslkey"),
    SSLROOTCERT(List.of("sslrootcert"), "PGSSLROOTCERT", "sslrootcert"),
    CONNECT_TIMEOUT(List.of("connect_timeout"), "PGCONNECT_TIMEOUT", "connectTimeout"),
    APPLICATION_NAME(List.of("application_name"), "PGAPPNAME", "ApplicationName"),
    OPTIONS(List.of("options"), "PGOPTIONS", "options"),
    STATEMENT_TIMEOUT(List.of("statement_timeout"), null, null),
    POOL_MIN(List.of("pool_min"), null, null),
    POOL_SIZE(List.of("pool_size", "pool_max"), null, null),
    MAX_RETRIES(List.of("max_retries"), null, null);

    private final List<String> names;
    private final String libpqVariable;
    private final String driverProperty;

    PgParam(List<String> names, String libpqVariable, String driverProperty) {
        this.names = names;
        this.libpqVariable = libpqVariable;
        this.driverProperty = driverProperty;
    }

    /** The names, preferred first: {@code database} before {@code dbname}. */
    public List<String> names() {
        return names;
    }

    public String key() {
        return names.get(0);
    }

    /** libpq's environment variable ({@code PGHOST}), if libpq has one. */
    Optional<String> libpqVariable() {
        return Optional.ofNullable(libpqVariable);
    }

    /** The parameter a URL query name stands for: libpq and datakit names, or PgJDBC's spelling. */
    static Optional<PgParam> forQueryName(String name) {
        return Arrays.stream(values())
            .filter(p -> p.names.contains(name) || name.equals(p.driverProperty))
            .findFirst();
    }

    /** Whether {@code name} is the preferred spelling rather than an alias, for "both given" rules. */
    boolean preferredName(String name) {
        return names.get(0).equals(name) || (name.equals(driverProperty) && !names.contains(name));
    }

    /** Every URL query name accepted, for error messages. */
    static String knownQueryNames() {
        return String.join(", ", Arrays.stream(values()).flatMap(p -> p.names.stream()).toList());
    }
}
