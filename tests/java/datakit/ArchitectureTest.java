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
 * ({@code cli}) and the tools above it are reached by nothing below them, and the error type is a leaf
 * every package may use. docs/architecture.md draws the layers.
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
}
