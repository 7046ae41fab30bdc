package datakit.testing;

import java.util.Map;

/** A source and a warehouse database made for one test, and the environment that points a datakit at them. */
public record SourceAndWarehouse(TestDatabase source, TestDatabase warehouse) {

    /** Creates both (named {@code prefix_src...}, {@code prefix_wh...}) and runs {@code sourceSql} on the source. */
    public static SourceAndWarehouse create(String prefix, String... sourceSql) {
        var databases = new SourceAndWarehouse(TestPostgres.createDatabase(prefix + "_src"), TestPostgres.createDatabase(prefix + "_wh"));
        databases.source().execute(sourceSql);
        return databases;
    }

    /** SOURCE_DATABASE_URL and WAREHOUSE_DATABASE_URL. */
    public Map<String, String> env() {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }
}
