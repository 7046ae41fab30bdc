package datakit.sql;

import java.sql.Connection;
import org.jooq.DSLContext;
import org.jooq.Name;
import org.jooq.QueryPart;
import org.jooq.SQLDialect;
import org.jooq.conf.ParamType;
import org.jooq.conf.RenderQuotedNames;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;

/**
 * jOOQ set up the one way this project uses it: PostgreSQL dialect, every identifier quoted, so a
 * name from the catalog or the command line is always an identifier and never SQL.
 */
public final class Sql {
    static {
        System.setProperty("org.jooq.no-logo", "true");
        System.setProperty("org.jooq.no-tips", "true");
    }

    private static final Settings SETTINGS = new Settings()
        .withRenderQuotedNames(RenderQuotedNames.ALWAYS)
        .withExecuteLogging(false)
        .withDiagnosticsLogging(false);

    private static final DSLContext RENDERER = DSL.using(SQLDialect.POSTGRES, SETTINGS);

    private Sql() {
    }

    /** jOOQ bound to a connection, for queries with bind values. */
    public static DSLContext using(Connection connection) {
        return DSL.using(connection, SQLDialect.POSTGRES, SETTINGS);
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
        return RENDERER.renderContext().paramType(ParamType.INLINED).visit(part).render();
    }

    /** One quoted identifier as SQL text. */
    public static String quote(String identifier) {
        return inline(DSL.name(identifier));
    }
}
