package datakit.config;

import datakit.error.DatakitException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The variables a datakit reads, in their order of precedence: the process environment, then a
 * {@code .env} file. It is a value object so tests can pass their own variables instead of the real ones.
 */
public final class Environment {
    private final Map<String, String> process;
    private final Map<String, String> config;
    private final String configLabel;
    private final Map<String, String> dotEnv;
    private final String dotEnvLabel;
    private final Path home;
    private final String osUser;

    public Environment(Map<String, String> process, Map<String, String> dotEnv, String dotEnvLabel, Path home, String osUser) {
        this(process, Map.of(), "", dotEnv, dotEnvLabel, home, osUser);
    }

    private Environment(Map<String, String> process, Map<String, String> config, String configLabel, Map<String, String> dotEnv,
                        String dotEnvLabel, Path home, String osUser) {
        this.process = Map.copyOf(process);
        this.config = Map.copyOf(config);
        this.configLabel = configLabel;
        this.dotEnv = Map.copyOf(dotEnv);
        this.dotEnvLabel = dotEnvLabel;
        this.home = home;
        this.osUser = osUser;
    }

    /** The process's variables (without .env or a config file): what a datakit started by this one inherits. */
    public Map<String, String> processVariables() {
        return process;
    }

    /** The given variables plus the given {@code .env} file when it exists; home and user from the JVM. */
    public static Environment of(Map<String, String> variables, Path dotEnvFile) {
        return new Environment(variables, readDotEnv(dotEnvFile), dotEnvFile.toString(),
            Path.of(System.getProperty("user.home")), System.getProperty("user.name"));
    }

    private static Map<String, String> readDotEnv(Path file) {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        try {
            return DotEnv.parse(file.toString(), Files.readString(file));
        } catch (IOException e) {
            throw DatakitException.badInput("Cannot read %s: %s. Fix its permissions or pass --env-file with another file.",
                file, e.getMessage());
        }
    }

    /** The same environment with a --config file's option values between the process environment and .env. */
    public Environment withConfig(Map<String, String> values, String label) {
        return new Environment(process, values, label, dotEnv, dotEnvLabel, home, osUser);
    }

    /**
     * An option's variable: from the process environment, else the --config file, else the .env file.
     * Empty values count as unset.
     */
    public Optional<Variable> get(String name) {
        return processValue(name)
            .or(() -> variable(config, name, name.toLowerCase(java.util.Locale.ROOT) + " (" + configLabel + ")"))
            .or(() -> dotEnvValue(name));
    }

    /** The variables the --config file sets. */
    public java.util.Set<String> configKeys() {
        return config.keySet();
    }

    /** A variable from the process environment only. */
    Optional<Variable> processValue(String name) {
        return variable(process, name, name);
    }

    /** A variable from the .env file only. */
    Optional<Variable> dotEnvValue(String name) {
        return variable(dotEnv, name, name + " (" + dotEnvLabel + ")");
    }

    private static Optional<Variable> variable(Map<String, String> map, String name, String origin) {
        String value = map.get(name);
        return value == null || value.isEmpty() ? Optional.empty() : Optional.of(new Variable(value, origin));
    }

    public Path home() {
        return home;
    }

    String osUser() {
        return osUser;
    }

    /** A value and where it came from, so error messages can name the variable to fix. */
    public record Variable(String value, String origin) {
    }
}
