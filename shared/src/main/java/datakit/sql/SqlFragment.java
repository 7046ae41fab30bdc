package datakit.sql;

import datakit.error.DatakitException;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A piece of SQL the user wrote ({@code --where}, {@code --query}). It is trusted by design, but it
 * must stay one expression or one query: it is checked to have balanced parentheses and no statement
 * separator outside string literals, quoted identifiers, dollar quotes and comments, so it cannot close
 * the {@code COPY (...)} around it or start a second statement. A trailing semicolon is dropped.
 */
public final class SqlFragment {
    private static final Pattern FIRST_WORD = Pattern.compile("[A-Za-z_]+");
    private static final Set<String> QUERY_WORDS = Set.of("SELECT", "WITH", "VALUES", "TABLE");

    private SqlFragment() {
    }

    /**
     * Returns the fragment (without a trailing semicolon) or fails with a message naming {@code option}.
     */
    public static String check(String sql, String option) {
        String text = sql.strip();
        var scan = new Scan(text, option);
        if (scan.semicolon >= 0) {
            // Only comments and whitespace may follow a top-level semicolon.
            if (!scan.codeAfterSemicolon.isBlank()) {
                throw DatakitException.badInput("%s contains more than one statement (a ; outside quotes). Give one %s.",
                    option, option.equals("--where") ? "condition" : "SELECT query");
            }
            text = text.substring(0, scan.semicolon).strip();
        }
        DatakitException.check(!scan.codeBeforeSemicolon.isBlank(), "%s is empty. Give some SQL or leave the option out.", option);
        return text;
    }

    /**
     * A {@code --query}: checked like any fragment, and it must be a query (SELECT, WITH, VALUES, TABLE),
     * since its rows are read with COPY. A statement that writes is refused here, before the source's
     * read-only transaction would refuse it with a less direct message.
     */
    public static String checkQuery(String sql) {
        String text = check(sql, "--query");
        // Comments are blanked by the scan; spaces of any kind and a byte-order mark may lead.
        String code = new Scan(text, "--query").codeBeforeSemicolon.replaceFirst("^[\\s\\p{Z}\\uFEFF]+", "");
        Matcher word = FIRST_WORD.matcher(code);
        String first = word.lookingAt() ? word.group().toUpperCase(Locale.ROOT) : "";
        if (!code.startsWith("(") && !QUERY_WORDS.contains(first)) {
            throw DatakitException.badInput("--query must be one query (SELECT, WITH, VALUES or TABLE), not %s: the datakits only "
                + "read the source. Give the SELECT that returns the rows to load.", first.isEmpty() ? code.split("\\s", 2)[0] : first);
        }
        return text;
    }

    /** One pass of PostgreSQL's lexical rules over the fragment. */
    private static final class Scan {
        private final String s;
        private final String option;
        private final StringBuilder code = new StringBuilder();
        int semicolon = -1;
        String codeBeforeSemicolon;
        String codeAfterSemicolon = "";

        Scan(String s, String option) {
            this.s = s;
            this.option = option;
            int depth = 0;
            int i = 0;
            while (i < s.length()) {
                char c = s.charAt(i);
                int next;
                if (c == '\'') {
                    next = skipQuoted(i, '\'', escapeString(i), "string literal");
                } else if (c == '"') {
                    next = skipQuoted(i, '"', false, "quoted identifier");
                } else if (c == '$' && dollarTag(i) != null) {
                    String tag = dollarTag(i);
                    int close = s.indexOf(tag, i + tag.length());
                    if (close < 0) {
                        throw unclosed("dollar-quoted string " + tag);
                    }
                    next = close + tag.length();
                } else if (s.startsWith("--", i)) {
                    int newline = s.indexOf('\n', i);
                    i = newline < 0 ? s.length() : newline + 1;
                    code.append(' ');
                    continue;
                } else if (s.startsWith("/*", i)) {
                    i = skipBlockComment(i);
                    code.append(' ');
                    continue;
                } else {
                    next = i + 1;
                    if (c == '(') {
                        depth++;
                    } else if (c == ')' && --depth < 0) {
                        throw DatakitException.badInput("%s has a ) without a matching (. Balance the parentheses.", option);
                    } else if (c == ';' && depth == 0 && semicolon < 0) {
                        semicolon = i;
                        codeBeforeSemicolon = code.toString();
                        code.setLength(0);
                        i = next;
                        continue;
                    }
                }
                code.append(s, i, next);
                i = next;
            }
            if (depth > 0) {
                throw DatakitException.badInput("%s has a ( without a matching ). Balance the parentheses.", option);
            }
            if (semicolon < 0) {
                codeBeforeSemicolon = code.toString();
            } else {
                codeAfterSemicolon = code.toString();
            }
        }

        /** E'...' takes backslash escapes, unless the E ends a longer name (like _E'). */
        private boolean escapeString(int quote) {
            if (quote == 0 || Character.toUpperCase(s.charAt(quote - 1)) != 'E') {
                return false;
            }
            return quote < 2 || !identifierChar(s.charAt(quote - 2));
        }

        private static boolean identifierChar(char c) {
            return Character.isLetterOrDigit(c) || c == '_' || c == '$';
        }

        private int skipQuoted(int start, char quote, boolean backslashEscapes, String what) {
            for (int i = start + 1; i < s.length(); i++) {
                char c = s.charAt(i);
                if (backslashEscapes && c == '\\') {
                    i++;
                } else if (c == quote) {
                    if (i + 1 < s.length() && s.charAt(i + 1) == quote) {
                        i++;
                    } else {
                        return i + 1;
                    }
                }
            }
            throw unclosed(what);
        }

        private int skipBlockComment(int start) {
            int depth = 0;
            for (int i = start; i < s.length() - 1; i++) {
                if (s.startsWith("/*", i)) {
                    depth++;
                    i++;
                } else if (s.startsWith("*/", i)) {
                    depth--;
                    i++;
                    if (depth == 0) {
                        return i + 1;
                    }
                }
            }
            throw unclosed("/* comment");
        }

        /** {@code $tag$} at {@code i}, or null when the $ starts no dollar quote (a parameter like $1). */
        private String dollarTag(int i) {
            if (i > 0 && identifierChar(s.charAt(i - 1))) {
                return null;
            }
            int j = i + 1;
            while (j < s.length() && (Character.isLetter(s.charAt(j)) || s.charAt(j) == '_'
                || (j > i + 1 && Character.isDigit(s.charAt(j))))) {
                j++;
            }
            return j < s.length() && s.charAt(j) == '$' ? s.substring(i, j + 1) : null;
        }

        private DatakitException unclosed(String what) {
            return DatakitException.badInput("%s has an unclosed %s. Close it.", option, what);
        }
    }
}
