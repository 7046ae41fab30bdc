package datakit.checkpoint;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A set of 64-bit transaction ids, kept as ranges of consecutive ids: an xmin checkpoint's {@code seen}. The ids that
 * wrote a table while one writer stays open are often consecutive (one writer after another, a transaction's
 * subtransactions), so thousands of them take a few ranges in the checkpoint and in the next run's query.
 */
public record XidRanges(List<Range> ranges) {
    /** The ids from {@code first} to {@code last}, both included. */
    public record Range(long first, long last) {
        public long count() {
            return last - first + 1;
        }

        @Override
        public String toString() {
            return first == last ? String.valueOf(first) : first + "-" + last;
        }
    }

    public static final XidRanges NONE = new XidRanges(List.of());

    public XidRanges {
        ranges = List.copyOf(ranges);
    }

    /** The ranges that hold exactly {@code ids}, in any order and with repeats. */
    public static XidRanges of(Collection<Long> ids) {
        return merged(ids.stream().map(id -> new Range(id, id)).toList());
    }

    /** The ranges that hold exactly the ids of {@code ranges}, which may overlap, touch or come in any order. */
    static XidRanges merged(List<Range> ranges) {
        var sorted = ranges.stream().sorted((a, b) -> Long.compare(a.first(), b.first())).toList();
        var merged = new ArrayList<Range>();
        for (Range r : sorted) {
            Range last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && r.first() <= last.last() + 1) {
                merged.set(merged.size() - 1, new Range(last.first(), Math.max(last.last(), r.last())));
            } else {
                merged.add(r);
            }
        }
        return new XidRanges(merged);
    }

    public boolean isEmpty() {
        return ranges.isEmpty();
    }

    /** How many ids. */
    public long count() {
        return ranges.stream().mapToLong(Range::count).sum();
    }

    /** Every id, for servers that have no multirange type. */
    public List<Long> ids() {
        var ids = new ArrayList<Long>();
        ranges.forEach(r -> {
            for (long id = r.first(); id <= r.last(); id++) {
                ids.add(id);
            }
        });
        return ids;
    }

    /** A few ranges, and how many more: "2-6, 9 and 3 more ranges". */
    public String describe(int shown) {
        String some = ranges.stream().limit(shown).map(Range::toString).collect(Collectors.joining(", "));
        int more = ranges.size() - shown;
        return more <= 0 ? some : some + " and " + more + (more == 1 ? " more range" : " more ranges");
    }
}
