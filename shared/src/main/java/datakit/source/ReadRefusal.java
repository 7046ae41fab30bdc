package datakit.source;

import datakit.config.Role;
import datakit.db.Database;
import datakit.db.Grants;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.util.Optional;

/**
 * The source's refusal of a read, as a one-line error: the user's SQL ({@code --where}, {@code --query}; see
 * {@link SqlErrors#aboutTheStatement}), a privilege the role lacks (with the GRANT that gives it), or a
 * row-level security policy that would hide rows. The user's to fix, with exit 2.
 */
final class ReadRefusal {
    private ReadRefusal() {
    }

    static DatakitException of(Database source, Selection selection, Throwable e) {
        String read = selection.describe();
        Optional<String> hidden = RowSecurity.hiddenBy(e);
        if (hidden.isPresent()) {
            return RowSecurity.refusal(read, hidden.get(), source.currentUser(), e);
        }
        if ("42501".equals(SqlErrors.sqlState(e))) {
            String user = source.currentUser();
            String message = SqlErrors.serverMessage(e);
            String grant = Grants.fix(e, Role.SOURCE, user, selection.table()).map(g -> "Grant it on the source: " + g)
                .orElse("Grant the missing privilege on the source to " + TableRef.display(user) + ".");
            String columns = message.contains("for table") ? " or grant SELECT on just the columns you need and name them with --columns."
                : "";
            return DatakitException.badInput("The source user %s may not read %s: %s. %s%s".formatted(user, read, message,
                grant, columns), e);
        }
        if (SqlErrors.aboutTheStatement(e)) {
            String option = selection.query().isPresent() && selection.where().isEmpty() ? "--query"
                : selection.query().isEmpty() && selection.where().isPresent() ? "--where" : "--query and --where";
            if (selection.query().isEmpty() && selection.where().isEmpty()) {
                return DatakitException.badInput("The source rejected the read of %s: %s."
                    .formatted(read, SqlErrors.serverMessage(e)), e);
            }
            return DatakitException.badInput("The source rejected %s: %s. Fix %s."
                .formatted(option, SqlErrors.serverMessage(e), option), e);
        }
        return SqlErrors.failure("Planning the read of " + read + " on the source " + source.settings().describe(), e, source);
    }
}
