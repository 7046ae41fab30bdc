package datakit.sql;

import java.sql.Connection;
import org.jooq.ConnectionProvider;
import org.jooq.DSLContext;
import org.jooq.Name;
import org.jooq.QueryPart;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.jooq.impl.DefaultConfiguration;

/**
 * jOOQ set up the one way this project uses it: PostgreSQL dialect, every name built with
 * {@link #name} quoted, so a name from the catalog or the command line is always an identifier, never SQL.
 */
public final class Sql {
    static {
        System.setProperty("org.jooq.no-logo", "true");
        System.setProperty("org.jooq.no-tips", "true");
    }

    // jOOQ's defaults already quote every name built with DSL.name().
    private static final DSLContext RENDERER = DSL.using(SQLDialect.POSTGRES);

    private Sql() {
    }

    /**
     * jOOQ bound to a connection, for queries with bind values; results are described without catalog queries
     * ({@link PositionalResults}).
     */
    public static DSLContext using(Connection connection) {
        var configuration = new DefaultConfiguration();
        configuration.setConnection(connection);
        return configured(configuration);
    }

    /** jOOQ on connections {@code provider} hands out, as {@link #using(Connection)}. */
    public static DSLContext using(ConnectionProvider provider) {
        var configuration = new DefaultConfiguration();
        configuration.setConnectionProvider(provider);
        return configured(configuration);
    }

    /**
     * The dialect, and the listener; set through the bean setters, as the overloads of {@code DSL.using} that take a
     * dialect pull in one whose JAXB annotations make javac warn when JBang compiles a datakit.
     */
    private static DSLContext configured(DefaultConfiguration configuration) {
        configuration.setSQLDialect(SQLDialect.POSTGRES);
        configuration.setExecuteListener(PositionalResults.LISTENER);
        return configuration.dsl();
    }

    /** A quoted (possibly qualified) identifier. */
    public static Name name(String... parts) {
        return DSL.name(parts);
    }

    /**
     * SQL text with every bind value inlined as an escaped literal, for statements that take no bind
     * parameters (COPY, DDL).
     */
    public static String inline(QueryPart part) {
        return RENDERER.renderInlined(part);
    }

    /** A text value as an escaped SQL string literal. */
    public static String literal(String value) {
        return inline(DSL.inline(value));
    }

    /** One quoted identifier as SQL text. */
    public static String quote(String identifier) {
        return inline(DSL.name(identifier));
    }
}
