package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A source table under row-level security: a policy lets most roles see only the EU rows. The datakits read
 * with row_security off, as pg_dump does, so a role the policy applies to gets an error naming the table and
 * the opt-in, never a silent subset; with --enable-row-security the run loads the rows the policy lets it
 * see and says so in its summary, --json and extraction_runs. Superusers, BYPASSRLS roles and the table's
 * owner are not subject to the policy and load every row.
 */
class RowSecurityIT {
    static final String PASSWORD = "policy-test-password";
    static final List<String> ROLES = new ArrayList<>();
    static TestDatabase source;
    static TestDatabase warehouse;
    /** SELECT on shop.notes, subject to the policy. */
    static String reader;
    /** The same grants, with BYPASSRLS. */
    static String bypasser;
    /** Owns shop.notes (which does not FORCE row security). */
    static String owner;

    @BeforeAll
    static void createATableUnderAPolicy() {
        var databases = SourceAndWarehouse.create("rls", """
            CREATE SCHEMA shop;
            CREATE TABLE shop.notes (id int PRIMARY KEY, region text NOT NULL, body text, changed_at timestamptz NOT NULL);
            INSERT INTO shop.notes SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'note ' || g,
                timestamptz '2026-01-01' + g * interval '1 hour' FROM generate_series(1, 10) g;
            ALTER TABLE shop.notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY eu_only ON shop.notes FOR SELECT USING (region = 'eu');
            """);
        source = databases.source();
        warehouse = databases.warehouse();
        reader = role("reader", "");
        bypasser = role("bypass", "BYPASSRLS");
        owner = role("owner", "");
        source.execute("ALTER TABLE shop.notes OWNER TO " + owner);
    }

    static String role(String purpose, String attributes) {
        String role = purpose + "_" + source.name();
        ROLES.add(role);
        source.execute("CREATE ROLE %s LOGIN %s PASSWORD '%s'".formatted(role, attributes, PASSWORD),
            "GRANT USAGE ON SCHEMA shop TO " + role, "GRANT SELECT ON shop.notes TO " + role);
        return role;
    }

    @AfterAll
    static void dropTheRoles() {
        if (source == null) {
            return;
        }
        source.execute("ALTER TABLE shop.notes OWNER TO CURRENT_USER");
        for (String role : ROLES) {
            source.execute("DROP OWNED BY " + role, "DROP ROLE " + role);
        }
    }

    static Datakits.Run runAs(String role, String datakit, String... args) {
        String url = role == null ? source.url() : source.url().replaceFirst("//[^@]*@", "//" + role + ":" + PASSWORD + "@");
        return Datakits.run(datakit, Map.of("SOURCE_DATABASE_URL", url, "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    @Test
    void aReadThatThePolicyWouldFilterFailsInEveryModeNamingTheTableAndTheOptIn() {
        String refusal = "Row-level security policies of table notes would hide rows of %s from the source user " + reader + ", and the "
            + "datakits read with row_security off so that no run loads a filtered copy silently. Read as the table's owner or a role "
            + "with BYPASSRLS, or pass --enable-row-security to load only the rows the policies let " + reader + " see.";
        Datakits.assertFailsWithOneLine(runAs(reader, "PostgresExtract", "--table", "shop.notes", "--target-table", "notes_full"), 2,
            refusal.formatted("shop.notes"));
        Datakits.assertFailsWithOneLine(runAs(reader, "PostgresIncremental", "--table", "shop.notes", "--cursor-field", "changed_at",
            "--target-table", "notes_inc"), 2, refusal.formatted("shop.notes"));
        Datakits.assertFailsWithOneLine(runAs(reader, "PostgresPartitioned", "--table", "shop.notes", "--chunks", "2",
            "--target-table", "notes_parts"), 2, refusal.formatted("shop.notes"));
        Datakits.assertFailsWithOneLine(runAs(reader, "PostgresJsonb", "--table", "shop.notes", "--target-table", "notes_json"), 2,
            refusal.formatted("shop.notes"));
        Datakits.assertFailsWithOneLine(runAs(reader, "PostgresExtract", "--query", "SELECT n.id, n.body FROM shop.notes n",
            "--target-table", "notes_query"), 2, refusal.formatted("query"));

        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename IN "
            + "('notes_full', 'notes_inc', 'notes_parts', 'notes_json', 'notes_query')")).as("no bronze table of a refused read").isEqualTo("0");
    }

    @Test
    void withEnableRowSecurityTheRunLoadsWhatThePolicyLetsItSeeAndSaysSo() throws Exception {
        var run = runAs(reader, "PostgresExtract", "--table", "shop.notes", "--target-table", "notes_eu", "--enable-row-security", "--json");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        String limited = "rows limited by the row-level security policies of table notes to those the source user " + reader
            + " may see (--enable-row-security)";
        assertThat(new ObjectMapper().readTree(run.out()).get("row_security").asText()).isEqualTo(limited);
        assertThat(warehouse.rows("SELECT id, region FROM bronze.notes_eu ORDER BY id"))
            .isEqualTo(source.rows("SELECT id, region FROM shop.notes WHERE region = 'eu' ORDER BY id")).hasSize(5);
        assertThat(warehouse.value("SELECT details ->> 'row_security' FROM bronze.extraction_runs WHERE stream = 'bronze.notes_eu'"))
            .isEqualTo(limited);

        var incremental = runAs(reader, "PostgresIncremental", "--table", "shop.notes", "--cursor-field", "changed_at",
            "--target-table", "notes_eu_inc", "--enable-row-security");
        assertThat(incremental.exitCode()).as(incremental.toString()).isZero();
        assertThat(incremental.out()).contains("row security: " + limited);
        assertThat(warehouse.count("bronze.notes_eu_inc")).isEqualTo(5);
    }

    @Test
    void superusersBypassRlsRolesAndTheOwnerLoadEveryRow() throws Exception {
        for (String role : new String[] {null, bypasser, owner}) {
            String table = "notes_all_" + (role == null ? "superuser" : role.substring(0, role.indexOf('_')));
            var run = runAs(role, "PostgresExtract", "--table", "shop.notes", "--target-table", table, "--json");
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(warehouse.count("bronze." + table)).as(table).isEqualTo(10);
            assertThat(new ObjectMapper().readTree(run.out()).has("row_security")).isFalse();
        }
        // A table's own block ranges are read under its own policies: the owner reads every row of them too.
        var chunks = runAs(owner, "PostgresPartitioned", "--table", "shop.notes", "--chunks", "2", "--target-table", "notes_all_chunks");
        assertThat(chunks.exitCode()).as(chunks.toString()).isZero();
        assertThat(warehouse.count("bronze.notes_all_chunks")).isEqualTo(10);
        var optedIn = runAs(bypasser, "PostgresExtract", "--table", "shop.notes", "--target-table", "notes_all_opted_in", "--json",
            "--enable-row-security");
        assertThat(new ObjectMapper().readTree(optedIn.out()).get("row_security").asText())
            .isEqualTo("on (--enable-row-security); no policy limited the rows read");
        assertThat(warehouse.count("bronze.notes_all_opted_in")).isEqualTo(10);
    }

    /**
     * Partitions read one by one are read under their own policies, not under their parent's: a partition's policy
     * that would filter the rows is refused like any other, and with --enable-row-security, which would filter them
     * differently from a read of the whole table, a table with policies in its tree is refused.
     */
    @Test
    void aPartitionedReadIsWholeForTheOwnerAndRefusedWhereAPartitionsPolicyWouldFilterIt() {
        source.execute("""
            CREATE TABLE shop.events (id int, region text NOT NULL) PARTITION BY LIST (region);
            CREATE TABLE shop.events_eu PARTITION OF shop.events FOR VALUES IN ('eu');
            CREATE TABLE shop.events_us PARTITION OF shop.events FOR VALUES IN ('us');
            INSERT INTO shop.events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 10) g;
            ALTER TABLE shop.events_us ENABLE ROW LEVEL SECURITY;
            CREATE POLICY none_of_it ON shop.events_us FOR SELECT USING (false);
            """, "GRANT SELECT ON shop.events, shop.events_eu, shop.events_us TO " + reader,
            "ALTER TABLE shop.events OWNER TO " + owner, "ALTER TABLE shop.events_eu OWNER TO " + owner,
            "ALTER TABLE shop.events_us OWNER TO " + owner);

        var whole = runAs(owner, "PostgresPartitioned", "--table", "shop.events", "--target-table", "events_all");
        assertThat(whole.exitCode()).as(whole.toString()).isZero();
        assertThat(warehouse.rows("SELECT id, region FROM bronze.events_all ORDER BY id"))
            .isEqualTo(source.rows("SELECT id, region FROM shop.events ORDER BY id")).hasSize(10);
        Datakits.assertFailsWithOneLine(runAs(reader, "PostgresPartitioned", "--table", "shop.events", "--target-table", "events_reader"), 2,
            "Row-level security policies of table events_us would hide rows of shop.events from the source user " + reader);
        Datakits.assertFailsWithOneLine(runAs(owner, "PostgresPartitioned", "--table", "shop.events", "--target-table", "events_opted_in",
            "--enable-row-security"), 2, "shop.events_us has row-level security, and --enable-row-security would read it under its own "
            + "policies, not those of shop.events, which a read of the whole applies. Copy shop.events with postgres-extract, or leave out "
            + "--enable-row-security to read every row (as the owner or a role with BYPASSRLS).");
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE 'events_reader%' "
            + "OR tablename LIKE 'events_opted_in%'")).isEqualTo("0");
    }

    @Test
    void changeDataCaptureRefusesTheOptInItsChangesWouldIgnore() {
        Datakits.assertFailsWithOneLine(runAs(null, "PostgresCdc", "--table", "shop.notes", "--enable-row-security"), 2,
            "postgres-cdc captures every change the slot decodes, which row-level security does not filter, so --enable-row-security "
                + "would filter its snapshot only.");
    }
}
