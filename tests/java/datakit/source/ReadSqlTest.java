package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReadSqlTest {
    static final List<SourceColumn> COLUMNS = List.of(
        new SourceColumn("id", "bigint", "bigint", false, Optional.empty(), Optional.empty()),
        new SourceColumn("status", "sales.status", "text", true, Optional.empty(), Optional.empty()),
        new SourceColumn("doc__sku", "JSON string", "text", false, Optional.empty(), Optional.of("(\"doc\" ->> 'sku')")));

    @Test
    void userConditionsStandOnLinesOfTheirOwnBeforeOurs() {
        assertThat(ReadSql.where(Optional.empty(), List.of())).isEmpty();
        assertThat(ReadSql.where(Optional.of("a = 1 -- note"), List.of())).isEqualTo(" WHERE (\na = 1 -- note\n)");
        assertThat(ReadSql.where(Optional.of("a = 1"), List.of("b", "c"))).isEqualTo(" WHERE (\na = 1\n) AND b AND c");
        assertThat(ReadSql.where(Optional.empty(), List.of("b"))).isEqualTo(" WHERE b");
        assertThat(ReadSql.conditions(Optional.of("a = 1"), List.of("b"))).isEqualTo("(\na = 1\n) AND b");
        assertThat(ReadSql.conditions(Optional.empty(), List.of())).isEmpty();
    }

    @Test
    void aSelectCastsAndComputesItsColumnsUnderTheirOwnNames() {
        assertThat(ReadSql.select(COLUMNS, "\"s\".\"t\"", Optional.of("x"), Optional.of("ctid < '(10,0)'"))).isEqualTo(
            "SELECT \"id\", \"status\"::text AS \"status\", (\"doc\" ->> 'sku') AS \"doc__sku\" FROM \"s\".\"t\" WHERE (\nx\n) AND "
                + "ctid < '(10,0)'");
    }

    @Test
    void aQueryIsReadAsTheSubqueryQ() {
        assertThat(ReadSql.from(Selection.query("SELECT 1 AS one"))).isEqualTo("(\nSELECT 1 AS one\n) AS q");
        assertThat(ReadSql.from(Selection.table(TableRef.of("s", "t")))).isEqualTo("\"s\".\"t\"");
    }

    @Test
    void copiesOfATableAndOfASelect() {
        assertThat(ReadSql.copyTable(TableRef.of("s", "t"), COLUMNS.subList(0, 2)))
            .isEqualTo("COPY \"s\".\"t\" (\"id\", \"status\") TO STDOUT (FORMAT binary)");
        assertThat(ReadSql.copyOf("SELECT 1")).isEqualTo("COPY (SELECT 1) TO STDOUT (FORMAT binary)");
    }
}
