package datakit.cdc;

import datakit.sql.TableRef;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code --apply} asks of the source's catalog while it follows a stream: the key a table's rows are
 * kept by, and the values older rows hold in columns added since. {@link CdcSource} answers; a stream that
 * reconnects answers through whichever source connection is current.
 */
interface ApplySource {
    /** The columns a change's old key holds; empty for REPLICA IDENTITY FULL without a key. */
    List<String> rowKey(TableRef table);

    /** For columns added to {@code table}: the value rows older than each column hold, where the catalog knows it. */
    Map<String, Optional<String>> olderRowValues(TableRef table, List<String> columns);
}
