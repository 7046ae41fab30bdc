package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A datakit started again and again in its own JVM, as a scheduler would, and killed with SIGKILL at a
 * random moment of each run: no shutdown hook, no exception handler, no clean close of anything. The
 * moment is uniform over the length of a whole run (JVM start included), learnt from one run to the end.
 */
final class KillLoop {
    /** At least 20 in the suite; tests/benchmark/kill-soak.sh (-Ddatakit.kill.iterations=N) runs more. */
    static final int ITERATIONS = Integer.getInteger("datakit.kill.iterations", 20);
    /** Printed with every report: -Ddatakit.kill.seed=N draws the same moments again, as fractions of a run's length. */
    static final long SEED = Long.getLong("datakit.kill.seed", System.nanoTime());
    private static final Duration SETTLE = Duration.ofSeconds(30);

    private final String scenario;
    private final String datakit;
    private final SourceAndWarehouse db;
    private final Random random;
    private final List<String> args;
    private final Path log;
    private long runMillis;
    private int killedMidRun;
    private int finishedFirst;

    KillLoop(String scenario, SourceAndWarehouse db, String datakit, String... args) throws IOException {
        this.scenario = scenario;
        this.datakit = datakit;
        this.db = db;
        this.random = new Random(SEED ^ scenario.hashCode());
        this.args = List.of(args);
        this.log = Files.createTempFile("kill-" + scenario + "-", ".log");
    }

    /** Runs to the end once (it must succeed), to learn how long a run takes. */
    void calibrate() throws Exception {
        long started = System.nanoTime();
        Process process = start();
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).as("calibration run of " + scenario + " ended").isTrue();
        assertFinishedCleanly(process);
        runMillis = Math.max(200, (System.nanoTime() - started) / 1_000_000);
    }

    Process start() throws IOException {
        return Datakits.start(datakit, db.env(), log, args.toArray(String[]::new));
    }

    /** A moment within one run's length, in milliseconds after its start. */
    long randomMoment() {
        return (long) (random.nextDouble() * runMillis);
    }

    /** Kills the run with SIGKILL if it is still going; a run that ended before must have succeeded. */
    void kill(Process process) throws Exception {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
            killedMidRun++;
        } else {
            assertFinishedCleanly(process);
            finishedFirst++;
        }
    }

    /** Starts a run, kills it at a random moment, and waits until the server has let go of it. */
    void startAndKill() throws Exception {
        Process process = start();
        Thread.sleep(randomMoment());
        kill(process);
        awaitServerLetGo(db);
    }

    /**
     * Waits until no datakit session is left on either database. A killed client's backends end when the
     * server notices (at its next read or write on the socket, or after a statement it was running), and
     * until then they hold the stream's lock or the slot: a run started meanwhile exits 3 (or 2 for a slot
     * in use), which a scheduler simply retries.
     */
    static void awaitServerLetGo(SourceAndWarehouse db) throws InterruptedException {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        String sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'postgres-%'";
        while (!(db.source().value(sessions).equals("0") && db.warehouse().value(sessions).equals("0"))) {
            assertThat(System.nanoTime()).as("the server let go of the killed datakit's sessions within " + SETTLE).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    /** Runs to the end (after the last kill), which must succeed. */
    void finish() throws Exception {
        Process process = start();
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).as("last run of " + scenario + " ended").isTrue();
        assertFinishedCleanly(process);
    }

    /** After the last runs: every killed run was marked abandoned by a run after it. */
    static void assertNoRunLeftRunning(SourceAndWarehouse db) {
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.extraction_runs WHERE status = 'running'"))
            .as("killed runs marked abandoned by the runs after them").isEqualTo("0");
    }

    private void assertFinishedCleanly(Process process) throws IOException {
        assertThat(process.exitValue()).as(scenario + " exited with " + process.exitValue() + ":\n" + Files.readString(log)).isZero();
    }

    /** One line for docs/reliability.md, kept in target/reliability/kill-loops.txt and printed. */
    void report(Outcome outcome) throws IOException {
        String line = ("%s: %d runs killed with SIGKILL at a random moment (%d mid-run, %d had already finished), run length %d ms, "
            + "seed %d; then %s").formatted(scenario, killedMidRun + finishedFirst, killedMidRun, finishedFirst, runMillis, SEED, outcome);
        System.out.println("[reliability] " + line);
        Path figures = Path.of("target", "reliability", "kill-loops.txt");
        Files.createDirectories(figures.getParent());
        Files.writeString(figures, line + System.lineSeparator(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        Files.deleteIfExists(log);
    }

    /** What the end state was compared with: rows lost, rows that should not be there, duplicates. */
    record Outcome(String compared, long rows, long lost, long extra, long duplicates) {
        @Override
        public String toString() {
            return "%s: %d rows, %d lost, %d extra, %d duplicates".formatted(compared, rows, lost, extra, duplicates);
        }
    }
}
