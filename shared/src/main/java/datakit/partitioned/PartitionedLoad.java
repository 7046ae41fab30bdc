package datakit.partitioned;

import datakit.bronze.Layout;

/**
 * How a partitioned load runs.
 *
 * @param layout      one bronze table partitioned by part, or a table per part
 * @param keepUnchanged whether parts found unchanged since the published load are kept instead of read again
 * @param restart     whether to give up an unfinished load instead of resuming it
 * @param shard       which of the processes sharing the load this one is
 * @param parallelism how many parts this process copies at once
 */
public record PartitionedLoad(Layout layout, boolean keepUnchanged, boolean restart, Shard shard, int parallelism) {
}
