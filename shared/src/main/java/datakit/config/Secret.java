package datakit.config;

/**
 * A password. Its {@code toString} never shows the value, so a secret cannot leak through a log line,
 * an exception message or a record's generated {@code toString}.
 */
public record Secret(String value) {
    @Override
    public String toString() {
        return "****";
    }
}
