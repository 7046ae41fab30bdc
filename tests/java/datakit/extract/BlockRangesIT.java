package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * postgres-extract reads a table of --split-from or more in --parallelism block ranges at once, all in one snapshot, into one
 * staging table put in place at the end: bronze equals the source, also while rows move between blocks; a load killed
 * mid-way leaves bronze as it was and its staging table is dropped by the next.
 */
class BlockRangesIT {
    static SourceAndWarehouse db;
    static final int ROWS = 60_000;

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("blockranges",
            "CREATE TABLE public.big (id int PRIMARY KEY, v int NOT NULL, pad text)",
            "INSERT INTO public.big SELECT g, 0, repeat('p', 100) FROM generate_series(1, " + ROWS + ") g",
            "CREATE TABLE public.small (id int PRIMARY KEY)",
            "INSERT INTO public.small SELECT generate_series(1, 10)",
            "VACUUM ANALYZE");
    }

    static Datakits.Run extract(String... args) {
        return Datakits.run("PostgresExtract", db.env(), args);
    }

    static String rows(datakit.testing.TestDatabase database, String table) {
        return database.value("SELECT count(*) || ':' || count(DISTINCT id) || ':' || md5(string_agg(id || ',' || v || ',' || pad, ';' ORDER BY id)) "
            + "FROM " + table);
    }

    @Test
    void aBigTableIsReadInBlockRangesInOneSnapshotWhileRowsMoveBetweenBlocks() throws Exception {
        var stop = new AtomicBoolean();
        var updates = new AtomicLong();
        // Every update writes a new row version, often on another page: a range read in another snapshot would see a row
        // twice or not at all.
        var writer = CompletableFuture.runAsync(() -> {
            while (!stop.get()) {
                db.source().execute("UPDATE public.big SET v = v + 1 WHERE id % 97 = " + updates.incrementAndGet() % 97);
            }
        });
        Datakits.Run run;
        try {
            run = extract("--table", "public.big", "--split-from", "1M", "--parallelism", "3", "--target-table", "big_split", "--verbose");
        } finally {
            stop.set(true);
            writer.get();
        }
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.err()).contains("copied public.big in 3 block ranges at once");
        assertThat(updates.get()).isGreaterThan(1);
        // Every id once, with a version of v one snapshot saw: the counts are exact and no id repeats.
        assertThat(db.warehouse().value("SELECT count(*) || ':' || count(DISTINCT id) FROM bronze.big_split")).isEqualTo(ROWS + ":" + ROWS);
        // Each update set v on all rows of one residue together: in one snapshot they all have one v.
        assertThat(db.warehouse().value("SELECT count(*) FROM (SELECT id % 97 FROM bronze.big_split GROUP BY 1 HAVING count(DISTINCT v) > 1) s"))
            .isEqualTo("0");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");

        // Quiet again: the same table in one stream (--parallelism 1) and in ranges land the same rows.
        var ranges = extract("--table", "public.big", "--split-from", "1M", "--parallelism", "2", "--target-table", "big_split");
        var single = extract("--table", "public.big", "--parallelism", "1", "--target-table", "big_single", "--verbose");
        assertThat(ranges.exitCode()).as(ranges.toString()).isZero();
        assertThat(single.exitCode()).as(single.toString()).isZero();
        assertThat(single.err()).doesNotContain("block ranges");
        assertThat(rows(db.warehouse(), "bronze.big_split")).isEqualTo(rows(db.source(), "public.big"))
            .isEqualTo(rows(db.warehouse(), "bronze.big_single"));
        // Below --split-from, one stream.
        var small = extract("--table", "public.small", "--parallelism", "3", "--verbose");
        assertThat(small.err()).doesNotContain("block ranges");
    }

    @Test
    void aLoadKilledWhileItCopiesRangesLeavesBronzeAsItWasAndTheNextDropsItsStagingTable() throws Exception {
        var first = extract("--table", "public.big", "--parallelism", "1", "--target-table", "big_killed");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        String before = rows(db.warehouse(), "bronze.big_killed");
        db.source().execute("UPDATE public.big SET pad = 'changed' WHERE id <= 10");
        try {
            Process process = Datakits.start("PostgresExtract", db.env(), "--table", "public.big", "--split-from", "1M", "--parallelism",
                "3", "--target-table", "big_killed");
            try {
                waitFor(() -> !"0".equals(db.warehouse().value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")));
            } finally {
                process.destroyForcibly().waitFor();
            }
            assertThat(rows(db.warehouse(), "bronze.big_killed")).isEqualTo(before);

            var next = extract("--table", "public.big", "--split-from", "1M", "--parallelism", "3", "--target-table", "big_killed");
            assertThat(next.exitCode()).as(next.toString()).isZero();
            assertThat(rows(db.warehouse(), "bronze.big_killed")).isEqualTo(rows(db.source(), "public.big"));
            assertThat(db.warehouse().value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");
        } finally {
            db.source().execute("UPDATE public.big SET pad = repeat('p', 100) WHERE id <= 10");
        }
    }

    @Test
    void inASetOneBigTableIsReadInRangesBesideTheOthers() {
        var run = extract("--table", "public.*", "--split-from", "1M", "--parallelism", "2", "--target-schema", "set_ranges", "--verbose");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.err()).contains("copied public.big in 2 block ranges at once");
        assertThat(rows(db.warehouse(), "set_ranges.big")).isEqualTo(rows(db.source(), "public.big"));
        assertThat(db.warehouse().value("SELECT count(*) FROM set_ranges.small")).isEqualTo("10");
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
