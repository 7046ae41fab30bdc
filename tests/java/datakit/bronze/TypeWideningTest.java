package datakit.bronze;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TypeWideningTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "smallint | integer", "integer | bigint", "smallint | bigint", "integer | numeric", "bigint | numeric(19,0)",
        "integer | numeric(12,2)", "numeric(10,2) | numeric(12,4)", "numeric(10,2) | numeric", "numeric(5) | numeric(7,2)",
        "real | double precision", "character varying(10) | character varying(50)", "character varying(10) | character varying",
        "character varying(10) | text", "text | character varying", "timestamp(3) without time zone | timestamp without time zone",
        "timestamp(0) with time zone | timestamp(3) with time zone", "time(2) without time zone | time without time zone",
        "bit varying(4) | bit varying(8)", "integer[] | bigint[]", "character varying(5)[] | text[]", "text | text"})
    void widens(String from, String to) {
        assertThat(TypeWidening.widens(from, to)).isTrue();
    }

    @ParameterizedTest(name = "{0} -/-> {1}")
    @CsvSource(delimiter = '|', value = {
        "bigint | integer", "integer | smallint", "integer | numeric(9,0)", "bigint | numeric(20,2)", "numeric(12,4) | numeric(10,2)",
        "numeric(10,2) | numeric(12,1)", "numeric | numeric(30,10)", "double precision | real", "integer | double precision",
        "character varying(50) | character varying(10)", "text | character varying(100)", "character(5) | character(10)",
        "integer | text", "text | integer", "timestamp without time zone | timestamp with time zone",
        "timestamp without time zone | timestamp(3) without time zone", "json | jsonb", "integer | integer[]", "integer[] | text[]"})
    void doesNotWiden(String from, String to) {
        assertThat(TypeWidening.widens(from, to)).isFalse();
    }
}
