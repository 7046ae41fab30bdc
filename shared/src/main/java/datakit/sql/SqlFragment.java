package datakit.sql;

import datakit.cli.DatakitException;

/**
 * A piece of SQL the user wrote ({@code --where}, {@code --query}). It is trusted by design, but it
 * must stay one expression or one query: it is checked to have balanced parentheses and no statement
 * separator outside string literals, quoted identifiers, dollar quotes and comments, so it cannot close
 * the {@code COPY (...)} around it or start a second statement. A trailing semicolon is dropped.
 */
public final class SqlFragment {
    private SqlFragment() {
    }

    /**
     * Returns the fragment (without a trailing semicolon) or fails with a message naming {@code option}.
     */
    public static String check(String sql, String option) {
        String text = sql.strip();
        int end = scan(text, option);
        if (end < text.length()) {
            // scan stopped at a top-level semicolon: only whitespace and comments may follow it.
            String rest = text.substring(end + 1);
            if (scan(rest, option) != rest.length() || !withoutComments(rest).isBlank()) {
                throw DatakitException.badInput("%s contains more than one statement (a ; outside quotes). Give one %s.",
                    option, option.equals("--where") ? "condition" : "SELECT query");
            }
            text = text.substring(0, end).strip();
        }
        DatakitException.check(!withoutComments(text).isBlank(), "%s is empty. Give some SQL or leave the option out.", option);
        return text;
    }

    /** Scans to the end, or to the first top-level semicolon; checks quotes and parentheses. */
    private static int scan(String s, String option) {
        int depth = 0;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\'') {
                boolean escapes = i > 0 && (s.charAt(i - 1) == 'E' || s.charAt(i - 1) == 'e')
                    && (i < 2 || !Character.isLetterOrDigit(s.charAt(i - 2)));
                i = skipQuoted(s, i, '\'', escapes, option, "string literal");
            } else if (c == '"') {
                i = skipQuoted(s, i, '"', false, option, "quoted identifier");
            } else if (c == '$' && dollarTag(s, i) != null) {
                String tag = dollarTag(s, i);
                int close = s.indexOf(tag, i + tag.length());
                if (close < 0) {
                    throw unclosed(option, "dollar-quoted string " + tag);
                }
                i = close + tag.length();
            } else if (s.startsWith("--", i)) {
                int newline = s.indexOf('\n', i);
                i = newline < 0 ? s.length() : newline + 1;
            } else if (s.startsWith("/*", i)) {
                i = skipBlockComment(s, i, option);
            } else if (c == '(') {
                depth++;
                i++;
            } else if (c == ')') {
                if (--depth < 0) {
                    throw DatakitException.badInput("%s has a ) without a matching (. Balance the parentheses.", option);
                }
                i++;
            } else if (c == ';' && depth == 0) {
                return i;
            } else {
                i++;
            }
        }
        if (depth > 0) {
            throw DatakitException.badInput("%s has a ( without a matching ). Balance the parentheses.", option);
        }
        return s.length();
    }

    private static int skipQuoted(String s, int start, char quote, boolean backslashEscapes, String option, String what) {
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
        throw unclosed(option, what);
    }

    private static int skipBlockComment(String s, int start, String option) {
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
        throw unclosed(option, "/* comment");
    }

    /** {@code $tag$} at {@code i}, or null when the $ starts no dollar quote (a parameter like $1). */
    private static String dollarTag(String s, int i) {
        if (i > 0 && (Character.isLetterOrDigit(s.charAt(i - 1)) || s.charAt(i - 1) == '_')) {
            return null;
        }
        int j = i + 1;
        while (j < s.length() && (Character.isLetter(s.charAt(j)) || s.charAt(j) == '_'
            || (j > i + 1 && Character.isDigit(s.charAt(j))))) {
            j++;
        }
        return j < s.length() && s.charAt(j) == '$' ? s.substring(i, j + 1) : null;
    }

    private static String withoutComments(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("--[^\n]*", " ");
    }

    private static DatakitException unclosed(String option, String what) {
        return DatakitException.badInput("%s has an unclosed %s. Close it.", option, what);
    }
}
