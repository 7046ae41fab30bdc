package datakit.cli;

import datakit.error.DatakitException;

/**
 * An option mixin that can check its values without a database. Every datakit checks its mixins before
 * it connects to anything, so a typo fails in milliseconds with exit code 2, not after a connection timeout.
 */
interface CheckedOptions {
    /** Throws {@link DatakitException} (bad input) when a value cannot work. */
    void check();
}
