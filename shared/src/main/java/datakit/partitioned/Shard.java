package datakit.partitioned;

/**
 * One of {@code count} processes that share a partitioned load, numbered from 0 like a Kubernetes
 * Indexed Job's {@code JOB_COMPLETION_INDEX}. A process without sharding is shard 0 of 1.
 */
public record Shard(int index, int count) {
    public static final Shard ONLY = new Shard(0, 1);

    @Override
    public String toString() {
        return index + "/" + count;
    }
}
