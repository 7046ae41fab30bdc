package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Field mappings: --rename and --cast applied in the source's SELECT, with --columns, on full and partitioned loads. */
class MappingsIT {
    SourceAndWarehouse db;

    @BeforeEach
    void createDatabases() {
        db = SourceAndWarehouse.create("mappings", "CREATE TYPE mood AS ENUM ('ok', 'sad')",
            "CREATE TABLE public.employees (emp_no int PRIMARY KEY, hire_date date, salary numeric(12,4), feeling mood, note text)",
            "INSERT INTO employees VALUES (1, '2020-01-02', 1234.5678, 'ok', 'a'), (2, '2021-03-04', 99.995, 'sad', NULL)");
    }

    @Test
    void renamesAndCastsLandAsAsked() {
        var run = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--columns", "emp_no,hire_date,salary,feeling",
            "--rename", "emp_no=employee_id", "--cast", "hire_date=text", "--cast", "salary=numeric(10,2)", "--rename", "feeling=mood");
        assertThat(run.exitCode()).as(run.toString()).isZero();

        assertThat(db.warehouse().rows("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'bronze' "
            + "AND table_name = 'employees' AND column_name NOT LIKE '\\_bronze%' ORDER BY ordinal_position")).containsExactly(
                List.of("employee_id", "integer"), List.of("hire_date", "text"), List.of("salary", "numeric"), List.of("mood", "text"));
        assertThat(db.warehouse().rows("SELECT employee_id::text, hire_date, salary::text, mood FROM bronze.employees ORDER BY 1"))
            .containsExactly(List.of("1", "2020-01-02", "1234.57", "ok"), List.of("2", "2021-03-04", "100.00", "sad"));
    }

    @Test
    void badMappingsFailWithOneClearLine() {
        var missing = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--rename", "nope=x");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("--rename names nope, which the read of public.employees has not");
        var clash = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--rename", "note=emp_no");
        assertThat(clash.exitCode()).isEqualTo(2);
        assertThat(clash.err()).contains("--rename would land two columns named emp_no");
        var badType = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--cast", "salary=nosuchtype");
        assertThat(badType.exitCode()).isEqualTo(2);
        assertThat(badType.err()).contains("--cast salary=nosuchtype: the source does not know the type");
        var userType = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--cast", "note=mood");
        assertThat(userType.exitCode()).isEqualTo(2);
        assertThat(userType.err()).contains("only built-in types can be cast to");
        // Built in, but binary COPY cannot carry them to the warehouse: an empty int2vector, an OID that names nothing there.
        db.source().execute("CREATE TABLE public.vectors (v text)", "INSERT INTO vectors VALUES (''), ('1 2')");
        var vector = Datakits.run("PostgresExtract", db.env(), "--table", "vectors", "--cast", "v=int2vector");
        Datakits.assertFailsWithOneLine(vector, 2, "--cast v=int2vector: vector type int2vector lands as text (binary COPY cannot carry "
            + "an empty one), so it cannot be cast to. Cast to text instead.");
        var reference = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--cast", "emp_no=regclass");
        Datakits.assertFailsWithOneLine(reference, 2, "--cast emp_no=regclass: object reference type regclass lands as text, so it cannot "
            + "be cast to. Cast to text instead.");
        var syntax = Datakits.run("PostgresExtract", db.env(), "--table", "employees", "--cast", "salary=int; DROP TABLE x");
        assertThat(syntax.exitCode()).isEqualTo(2);
        assertThat(syntax.err()).contains("is not a type name");
        var incremental = Datakits.run("PostgresIncremental", db.env(), "--table", "employees", "--cursor-field", "emp_no",
            "--rename", "note=remark");
        assertThat(incremental.exitCode()).isEqualTo(2);
        assertThat(incremental.err()).contains("--rename and --cast work with full and partitioned loads");
        assertThat(db.warehouse().value("SELECT to_regclass('bronze.employees') IS NULL")).isEqualTo("t");
    }
}
