package datakit;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The library's dependency rules, read from its compiled classes: the packages form no cycle, the command line
 * ({@code cli}) and the tools above it are reached by nothing below them, the error type and WAL positions are
 * leaves every package may use, and the pgoutput decoder stands apart from the rest of {@code cdc} (the
 * package cycle check sees {@code cdc} whole). docs/architecture.md draws the layers.
 */
class ArchitectureTest {
    static final JavaClasses LIBRARY = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("datakit");

    @Test
    void thePackagesFormNoCycle() {
        slices().matching("datakit.(*)..").should().beFreeOfCycles().check(LIBRARY);
    }

    @Test
    void nothingBelowTheCommandLineReachesIt() {
        noClasses().that().resideOutsideOfPackages("datakit.cli..", "datakit.demo..")
            .should().dependOnClassesThat().resideInAPackage("datakit.cli..")
            .check(LIBRARY);
    }

    @Test
    void theErrorTypeIsALeaf() {
        classes().that().resideInAPackage("datakit.error..")
            .should().onlyDependOnClassesThat().resideInAnyPackage("datakit.error..", "java..")
            .check(LIBRARY);
    }

    @Test
    void walPositionsAreALeaf() {
        classes().that().resideInAPackage("datakit.wal..")
            .should().onlyDependOnClassesThat().resideInAnyPackage("datakit.wal..", "java..")
            .check(LIBRARY);
    }

    /** The decoder reads bytes only: no database, no driver, nothing of the change capture around it. */
    @Test
    void thePgoutputDecoderDependsOnlyOnPositionsAndErrors() {
        classes().that().resideInAPackage("datakit.cdc.pgoutput..")
            .should().onlyDependOnClassesThat().resideInAnyPackage("datakit.cdc.pgoutput..", "datakit.wal..", "datakit.error..", "java..")
            .check(LIBRARY);
    }
}
