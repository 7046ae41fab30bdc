package datakit.source;

import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Row-level security on the source. The datakits read with {@code row_security} off, as pg_dump does: where
 * a policy would hide rows from the source user, the server refuses the read instead of returning fewer
 * rows, so a run never loads a filtered copy in silence. {@code --enable-row-security} turns it on, and the
 * run then says in its summary which policies limited what it read. Table owners (unless the table forces
 * row security), superusers and roles with BYPASSRLS are not subject to policies and read every row either way.
 */
final class RowSecurity {
    /** The server's refusal, 42501 like any missing privilege; the message tells them apart. */
    private static final Pattern REFUSAL = Pattern.compile("query would be affected by row-level security policy for table \"((?:[^\"]|\"\")+)\"");

    private RowSecurity() {
    }

    /** The table whose policies made the server refuse a read with row_security off, if that is what {@code e} is. */
    static Optional<String> hiddenBy(Throwable e) {
        if (!"42501".equals(SqlErrors.sqlState(e))) {
            return Optional.empty();
        }
        Matcher m = REFUSAL.matcher(SqlErrors.serverMessage(e));
        return m.find() ? Optional.of(m.group(1).replace("\"\"", "\"")) : Optional.empty();
    }

    /** The one-line error for a read that policies would filter, without --enable-row-security. */
    static DatakitException refusal(String read, String table, String user, Throwable e) {
        return DatakitException.badInput(("Row-level security policies of table %s would hide rows of %s from the source "
            + "user %s, and the datakits read with row_security off so that no run loads a filtered copy silently. Read as the table's "
            + "owner or a role with BYPASSRLS, or pass --enable-row-security to load only the rows the policies let %s see.")
            .formatted(TableRef.display(table), read, user, user), e);
    }

    /**
     * What a run's summary (and {@code extraction_runs.details}) says under {@code row_security} with
     * {@code --enable-row-security}: which policies limited the rows read, or that none did.
     */
    static String note(Optional<String> limitedBy, Supplier<String> user) {
        return limitedBy.map(table -> "rows limited by the row-level security policies of table %s to those the source user "
                .formatted(TableRef.display(table)) + user.get() + " may see (--enable-row-security)")
            .orElse("on (--enable-row-security); no policy limited the rows read");
    }
}
