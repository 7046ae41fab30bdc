package datakit.sql;

import java.sql.Connection;
import org.jooq.DSLContext;
import org.jooq.Name;
import org.jooq.QueryPart;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

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
     * jOOQ bound to a connection, for queries with bind values. The dialect comes from the connection's
     * jdbc:postgresql: URL; naming it here would pull in an overload whose JAXB annotations make javac
     * warn when JBang compiles a datakit.
     */
    public static DSLContext using(Connection connection) {
        return DSL.using(connection);
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
