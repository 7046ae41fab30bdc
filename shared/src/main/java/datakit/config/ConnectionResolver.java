package datakit.config;

import datakit.config.Environment.Variable;
import datakit.error.DatakitException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Turns flags, environment and {@code .env} into {@link ConnectionSettings}. For each parameter the
 * first of these that sets it wins:
 * <ol>
 *   <li>the URL flag ({@code --source}/{@code --target});</li>
 *   <li>the process environment: {@code SOURCE_PG_<NAME>}, then {@code SOURCE_DATABASE_URL};</li>
 *   <li>the {@code .env} file, in the same order;</li>
 *   <li>libpq's variables ({@code PGHOST}, {@code PGPASSWORD}...), then {@code ~/.pgpass} for the password;</li>
 *   <li>libpq's defaults (localhost, 5432, the OS user, a database named like the user).</li>
 * </ol>
 * A URL is one value: a URL flag hides the environment's URL, and an environment URL hides the .env one.
 */
public final class ConnectionResolver {
    private static final Set<String> SSL_MODES = Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");
    private static final Pattern DURATION = Pattern.compile("\\d+(ms|s|min|h|d)?");

    private final Environment env;
    private final Consumer<String> warnings;

    public ConnectionResolver(Environment env, Consumer<String> warnings) {
        this.env = env;
        this.warnings = warnings;
    }

    /**
     * @param role            source or warehouse
     * @param urlFlag         the URL given on the command line, or null
     * @param applicationName the default {@code application_name}: the datakit's name
     */
    public ConnectionSettings resolve(Role role, String urlFlag, String applicationName) {
        var layers = new ArrayList<Map<PgParam, Variable>>();
        var driverProperties = Map.<String, String>of();
        Optional<Variable> url = Optional.ofNullable(urlFlag).map(u -> new Variable(u, role.urlFlag()));
        if (url.isPresent()) {
            layers.add(urlLayer(url.get()));
        }
        layers.add(discreteLayer(role, env::processValue));
        if (url.isEmpty()) {
            url = env.processValue(role.urlVariable());
            url.ifPresent(u -> layers.add(urlLayer(u)));
        }
        layers.add(discreteLayer(role, env::dotEnvValue));
        if (url.isEmpty()) {
            url = env.dotEnvValue(role.urlVariable());
            url.ifPresent(u -> layers.add(urlLayer(u)));
        }
        layers.add(libpqLayer());
        if (url.isPresent()) {
            driverProperties = ConnectionUrl.parse(url.get().value(), url.get().origin()).driverProperties();
        }
        return build(role, merge(layers), driverProperties, applicationName);
    }

    private static Map<PgParam, Variable> urlLayer(Variable url) {
        var layer = new EnumMap<PgParam, Variable>(PgParam.class);
        ConnectionUrl.parse(url.value(), url.origin()).params()
            .forEach((param, value) -> layer.put(param, new Variable(value, url.origin())));
        return layer;
    }

    private static Map<PgParam, Variable> discreteLayer(Role role, java.util.function.Function<String, Optional<Variable>> lookup) {
        var layer = new EnumMap<PgParam, Variable>(PgParam.class);
        for (PgParam param : PgParam.values()) {
            // Names are tried preferred first, so SOURCE_PG_DATABASE beats SOURCE_PG_DBNAME.
            param.names().stream()
                .map(name -> lookup.apply(role.variable(name)))
                .flatMap(Optional::stream)
                .findFirst()
                .ifPresent(v -> layer.put(param, v));
        }
        return layer;
    }

    private Map<PgParam, Variable> libpqLayer() {
        var layer = new EnumMap<PgParam, Variable>(PgParam.class);
        for (PgParam param : PgParam.values()) {
            param.libpqVariable().flatMap(env::get).ifPresent(v -> layer.put(param, v));
        }
        return layer;
    }

    private static Map<PgParam, Variable> merge(List<Map<PgParam, Variable>> layers) {
        var merged = new EnumMap<PgParam, Variable>(PgParam.class);
        for (var layer : layers) {
            layer.forEach(merged::putIfAbsent);
        }
        return merged;
    }

    private ConnectionSettings build(Role role, Map<PgParam, Variable> values, Map<String, String> driverProperties, String applicationName) {
        var origins = new EnumMap<PgParam, String>(PgParam.class);
        values.forEach((param, v) -> origins.put(param, v.origin()));
        String host = text(values, PgParam.HOST).orElse("localhost");
        check(!host.startsWith("/"), role, values, PgParam.HOST, host,
            "is a Unix socket directory, and the datakits connect over TCP; give a host name such as localhost");
        int port = integer(role, values, PgParam.PORT, 1, 65535).orElse(5432);
        String user = text(values, PgParam.USERNAME).orElse(env.osUser());
        String database = text(values, PgParam.DATABASE).orElse(user);
        Optional<String> password = text(values, PgParam.PASSWORD);
        if (password.isEmpty()) {
            Path passFile = env.get("PGPASSFILE").map(v -> Path.of(v.value())).orElse(env.home().resolve(".pgpass"));
            password = PgPass.lookup(passFile, host, port, database, user, warnings);
            password.ifPresent(p -> origins.put(PgParam.PASSWORD, passFile.toString()));
        }
        String sslmode = text(values, PgParam.SSLMODE).orElse("prefer");
        check(SSL_MODES.contains(sslmode), role, values, PgParam.SSLMODE, sslmode,
            "must be one of disable, allow, prefer, require, verify-ca, verify-full");
        String statementTimeout = text(values, PgParam.STATEMENT_TIMEOUT).orElse(null);
        check(statementTimeout == null || DURATION.matcher(statementTimeout.replace(" ", "")).matches(), role, values,
            PgParam.STATEMENT_TIMEOUT, statementTimeout,
            "must be milliseconds or a number with a unit (ms, s, min, h, d), such as 30s or 5min");
        statementTimeout = statementTimeout == null ? null : statementTimeout.replace(" ", "");
        String options = text(values, PgParam.OPTIONS).orElse(null);
        if (options != null) {
            check(ServerOptions.problem(options).isEmpty(), role, values, PgParam.OPTIONS, options,
                "must hold server settings only (-c name=value or --name=value), which the datakits apply at the start of each "
                    + "transaction, but " + ServerOptions.problem(options).orElse(""));
            check(role != Role.SOURCE || !ServerOptions.parse(options).containsKey("row_security"), role, values, PgParam.OPTIONS, options,
                "sets row_security, which the datakits keep off on the source so that no policy hides rows silently; "
                    + "to load only the rows the policies let the source user see, pass --enable-row-security instead");
            Optional<String> unsupported = ServerOptions.unsupported(role, ServerOptions.parse(options), user);
            check(unsupported.isEmpty(), role, values, PgParam.OPTIONS, options, unsupported.orElse(""));
        }
        int poolSize = integer(role, values, PgParam.POOL_SIZE, 1, 1000).orElse(4);
        int poolMin = integer(role, values, PgParam.POOL_MIN, 0, 1000).orElse(Math.min(1, poolSize));
        check(poolMin <= poolSize, role, values, PgParam.POOL_MIN, String.valueOf(poolMin),
            "is larger than the pool size " + poolSize + "; lower it or raise " + role.variable("pool_size"));
        return new ConnectionSettings(role, host, port, database, user, password.map(Secret::new).orElse(null),
            sslmode,
            file(role, values, PgParam.SSLCERT),
            file(role, values, PgParam.SSLKEY),
            file(role, values, PgParam.SSLROOTCERT),
            integer(role, values, PgParam.CONNECT_TIMEOUT, 0, 3600).orElse(10),
            text(values, PgParam.APPLICATION_NAME).orElse(applicationName),
            options,
            statementTimeout,
            poolMin,
            poolSize,
            integer(role, values, PgParam.MAX_RETRIES, 0, 100).orElse(3),
            driverProperties,
            origins,
            false);
    }

    private static Optional<String> text(Map<PgParam, Variable> values, PgParam param) {
        return Optional.ofNullable(values.get(param)).map(Variable::value).filter(s -> !s.isEmpty());
    }

    private static Optional<Integer> integer(Role role, Map<PgParam, Variable> values, PgParam param, int min, int max) {
        return text(values, param).map(s -> {
            int parsed;
            try {
                parsed = Integer.parseInt(s.strip());
            } catch (NumberFormatException e) {
                parsed = Integer.MIN_VALUE;
            }
            check(parsed >= min && parsed <= max, role, values, param, s,
                "must be a whole number from " + min + " to " + max);
            return parsed;
        });
    }

    private static String file(Role role, Map<PgParam, Variable> values, PgParam param) {
        String path = text(values, param).orElse(null);
        check(path == null || path.equals("system") || Files.isReadable(Path.of(path)), role, values, param, path,
            "names a file that does not exist or cannot be read");
        return path;
    }

    private static void check(boolean ok, Role role, Map<PgParam, Variable> values, PgParam param, String value, String rule) {
        if (!ok) {
            String origin = values.containsKey(param) ? values.get(param).origin() : role.variable(param.key());
            throw DatakitException.badInput("The %s %s from %s is \"%s\": it %s. Fix it there.",
                role.label(), param.key(), origin, value, rule);
        }
    }
}
