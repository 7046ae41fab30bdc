package datakit.cdc;

import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code --apply} asks of the source's catalog while it follows a stream: the key a table's rows are
 * kept by, the values older rows hold in columns added since, the names tables have now, and where the WAL
 * ends. A table is named by its oid, as the stream's Relation messages name it: its name may have changed
 * since. {@link CdcSource} answers; a stream that reconnects answers through whichever source connection is
 * current.
 */
interface ApplySource {
    /** The columns a change's old key holds, of the table {@code oid}; empty for REPLICA IDENTITY FULL without a key. */
    List<String> rowKey(long oid);

    /** For columns added to the table {@code oid}: the value rows older than each column hold, where the catalog knows it. */
    Map<String, Optional<String>> olderRowValues(long oid, List<String> columns);

    /** The names the tables {@code oids} have now, for those that still exist. */
    Map<Long, TableRef> tablesNamed(List<Long> oids);

    /** Where the WAL ends now, as a walsender that has read everything reports it: every commit so far ends at or before it. */
    Lsn walEnd();
}
