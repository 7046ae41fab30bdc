package datakit.cli;

import datakit.error.DatakitException;
import datakit.full.Splitting;
import picocli.CommandLine.Option;

/**
 * How a set of tables ({@code --table 'shop.*'}) or a big table is loaded: how many tables or block ranges at once, from which
 * size a table is split, and whether a failed run of a set is completed.
 */
public class SetOptions implements CheckedOptions {
    private static final int MAX_PARALLELISM = 64;

    @Option(names = "--parallelism", paramLabel = "N", descriptionKey = "PARALLELISM",
        description = "Tables (or block ranges of a big one) copied at once, each with its own connections (default: the machine's "
            + "cores, 2 to 8); 1 also keeps a big table in one stream.")
    Integer parallelism;

    @Option(names = "--split-from", paramLabel = "SIZE", descriptionKey = "SPLIT_FROM", defaultValue = "256M",
        description = "Read a plain table of this size or more on disk in --parallelism block ranges at once (PostgreSQL 14+ "
            + "sources; default ${DEFAULT-VALUE}; a number with K, M or G).")
    String splitFrom;

    @Option(names = "--restart", description = "Load every table of the set, instead of completing the set's last run when it failed "
        + "part-way (by default only the tables it did not load are loaded).")
    boolean restart;

    @Override
    public void check() {
        parallelism();
        splitting();
    }

    /** How a big table is read: in --parallelism block ranges from --split-from on, or in one stream with --parallelism 1. */
    public Splitting splitting() {
        long bytes = SizeOption.bytes(splitFrom, "--split-from");
        return parallelism() == 1 ? Splitting.none() : Splitting.into(parallelism(), bytes);
    }

    /** Copies at once: --parallelism, else the machine's cores between 2 and 8. */
    public int parallelism() {
        return parallelism(parallelism);
    }

    /** Whether to load the whole set even when the last run of it failed part-way. */
    public boolean restart() {
        return restart;
    }

    /** The rule every parallel load follows: {@code given}, else the machine's cores between 2 and 8. */
    static int parallelism(Integer given) {
        int n = given != null ? given : Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));
        DatakitException.check(n >= 1 && n <= MAX_PARALLELISM, "--parallelism is %d; give 1 to %d.", n, MAX_PARALLELISM);
        return n;
    }
}
