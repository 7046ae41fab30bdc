package datakit.config;

/** Which database a setting is for: the source read from, or the warehouse that holds bronze. */
public enum Role {
    SOURCE("source", "SOURCE", "--source"),
    WAREHOUSE("warehouse", "WAREHOUSE", "--target");

    private final String label;
    private final String envPrefix;
    private final String urlFlag;

    Role(String label, String envPrefix, String urlFlag) {
        this.label = label;
        this.envPrefix = envPrefix;
        this.urlFlag = urlFlag;
    }

    /** "source" or "warehouse", for messages. */
    public String label() {
        return label;
    }

    /** The command-line flag that takes this database's URL. */
    public String urlFlag() {
        return urlFlag;
    }

    /** {@code SOURCE_DATABASE_URL} or {@code WAREHOUSE_DATABASE_URL}. */
    public String urlVariable() {
        return envPrefix + "_DATABASE_URL";
    }

    /** {@code SOURCE_PG_<NAME>}, the variable of one discrete parameter. */
    public String variable(String parameterName) {
        return envPrefix + "_PG_" + parameterName.toUpperCase(java.util.Locale.ROOT);
    }
}
