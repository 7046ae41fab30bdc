package datakit.cli;

import datakit.bronze.Layout;
import datakit.error.DatakitException;
import datakit.partitioned.PartitionedLoad;
import datakit.partitioned.Shard;
import datakit.source.Split;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/**
 * How a big table is split and loaded: which partitions ({@code --from}/{@code --to}) or how many block
 * ranges ({@code --chunks}), how many at once ({@code --parallelism}), the bronze {@code --layout},
 * whether unchanged parts are kept, and which share of the parts this process loads ({@code --shard i/n},
 * or a Kubernetes Indexed Job's {@code JOB_COMPLETION_INDEX} with {@code --shard-count n}).
 */
public class PartitionOptions implements CheckedOptions {
    private static final Pattern SHARD = Pattern.compile("(\\d+)/(\\d+)");

    @Option(names = "--from", paramLabel = "VALUE", description = "Only rows whose range partition key is at least this value (the first key column).")
    String from;

    @Option(names = "--to", paramLabel = "VALUE", description = "Only rows whose range partition key is below this value (the first key column).")
    String to;

    @Option(names = "--chunks", paramLabel = "N", description = "Split a table that is not partitioned into N block ranges.")
    Integer chunks;

    @Option(names = "--parallelism", paramLabel = "N", descriptionKey = "PARALLELISM",
        description = "Parts copied at once, each with its own connections (default: the machine's cores, 2 to 8).")
    Integer parallelism;

    @Option(names = "--layout", paramLabel = "LAYOUT", descriptionKey = "BRONZE_LAYOUT", defaultValue = "single",
        description = "single (one bronze table, partitioned by _bronze_partition; the default) or mirror (a bronze table per part).")
    String layout;

    @Option(names = "--full", description = "Copy every part, also those unchanged since the last load.")
    boolean full;

    @Option(names = "--restart", description = "Give up an unfinished load (its staged parts) instead of resuming it.")
    boolean restart;

    @Option(names = "--shard", paramLabel = "I/N", description = "Load shard I of N (counted from 0): N processes share the parts.")
    String shard;

    @Option(names = "--shard-count", paramLabel = "N", descriptionKey = "SHARD_COUNT",
        description = "Processes sharing the parts, each taking its shard from --shard-index (Kubernetes Indexed Job).")
    Integer shardCount;

    @Option(names = "--shard-index", paramLabel = "I", descriptionKey = "JOB_COMPLETION_INDEX",
        description = "This process's shard with --shard-count (default: JOB_COMPLETION_INDEX, set by an Indexed Job).")
    Integer shardIndex;

    @Override
    public void check() {
        split();
        load();
    }

    /** Which parts to read. */
    public Split split() {
        DatakitException.check(chunks == null || chunks >= 1, "--chunks is %d; give a positive number of block ranges.", chunks);
        DatakitException.check(from == null || !from.isBlank(), "--from is empty; give a value of the range partition key.");
        DatakitException.check(to == null || !to.isBlank(), "--to is empty; give a value of the range partition key.");
        return new Split(Optional.ofNullable(from), Optional.ofNullable(to), chunks == null ? OptionalInt.empty() : OptionalInt.of(chunks));
    }

    /** How this process loads them. */
    public PartitionedLoad load() {
        Layout chosen = layout();
        DatakitException.check(chosen == Layout.SINGLE || chunks == null,
            "--layout mirror makes a bronze table per source table, and block ranges (--chunks) are parts of one table. Use --layout single.");
        Shard shard = shard();
        DatakitException.check(shard.count() == 1 || chunks == null, "Block ranges (--chunks) must all be read in one snapshot, since "
            + "updated rows move between blocks, and each process of --shard reads its own. Leave out --shard and raise --parallelism.");
        return new PartitionedLoad(chosen, !full, restart, shard, parallelism());
    }

    /** Parts copied at once: --parallelism, else the machine's cores between 2 and 8. */
    public int parallelism() {
        return SetOptions.parallelism(parallelism);
    }

    private Layout layout() {
        try {
            return Layout.valueOf(layout.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw DatakitException.badInput("--layout is \"%s\"; give single or mirror.", layout);
        }
    }

    private Shard shard() {
        if (shard != null) {
            DatakitException.check(shardCount == null, "Give --shard i/n or --shard-count n, not both.");
            Matcher m = SHARD.matcher(shard.trim());
            DatakitException.check(m.matches(), "--shard is \"%s\"; give I/N, such as 0/3 for the first of three processes.", shard);
            return checked(parse(m.group(1), "--shard"), parse(m.group(2), "--shard"));
        }
        if (shardCount != null) {
            DatakitException.check(shardIndex != null, "--shard-count %d needs this process's index: set JOB_COMPLETION_INDEX (a "
                + "Kubernetes Indexed Job does) or give --shard-index.", shardCount);
            return checked(shardIndex, shardCount);
        }
        DatakitException.check(shardIndex == null, "A shard index is set (--shard-index or JOB_COMPLETION_INDEX) but no shard count. "
            + "Give --shard-count n (or SHARD_COUNT) with the number of processes, so each loads its share.");
        return Shard.ONLY;
    }

    private static Shard checked(int index, int count) {
        DatakitException.check(count >= 1, "The shard count is %d; give at least 1.", count);
        DatakitException.check(index >= 0 && index < count, "Shard index %d is out of range for %d shards: give 0 to %d (shards "
            + "count from 0, like JOB_COMPLETION_INDEX).", index, count, count - 1);
        return new Shard(index, count);
    }

    private static int parse(String digits, String option) {
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            throw DatakitException.badInput("%s has a number too large: %s.", option, digits);
        }
    }
}
