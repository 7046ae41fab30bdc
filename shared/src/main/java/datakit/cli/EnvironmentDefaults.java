package datakit.cli;

import datakit.config.Environment;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Option defaults from the environment, then the {@code .env} file: an option whose
 * {@code descriptionKey} names a variable ({@code BRONZE_SCHEMA}) takes its default from it, the way
 * picocli's PropertiesDefaultProvider keys options. Flags still win over both.
 */
final class EnvironmentDefaults implements IDefaultValueProvider {
    private final Environment env;

    EnvironmentDefaults(Environment env) {
        this.env = env;
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (arg instanceof OptionSpec option && !option.descriptionKey().isEmpty()) {
            return env.get(option.descriptionKey()).map(Environment.Variable::value).orElse(null);
        }
        return null;
    }
}
