package datakit;

import static com.tngtech.archunit.core.domain.JavaCall.Predicates.target;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.type;
import static com.tngtech.archunit.core.domain.properties.HasName.Predicates.nameMatching;
import static com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import datakit.bronze.BronzeLoad;
import datakit.bronze.WriteMode;
import datakit.cdc.CdcExtract;
import datakit.config.Role;
import datakit.db.Database;
import datakit.full.FullExtract;
import datakit.incremental.Increment;
import datakit.incremental.IncrementalExtract;
import datakit.json.KeyProfiles;
import datakit.partitioned.PartitionedExtract;
import datakit.partitioned.PartitionedPlan;
import datakit.report.KeyProfileTable;
import datakit.report.RunContext;
import datakit.run.BronzeSchemas;
import datakit.source.ReadPlan;
import datakit.sql.Identifiers;
import datakit.tableset.TableSets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.postgresql.copy.CopyManager;
import org.postgresql.copy.CopyOperation;
import org.postgresql.replication.PGReplicationStream;

/**
 * The library's dependency rules, read from its compiled classes: the packages form no cycle, the command line
 * ({@code cli}) and the tools above it are reached by nothing below them, the error type and WAL positions are
 * leaves every package may use, the pgoutput decoder stands apart from the rest of {@code cdc} (the package
 * cycle check sees {@code cdc} whole), the landing side ({@code bronze}) knows nothing of the reader
 * ({@code source}), only {@code run.JsonLoad} does a load's JSON work beyond its copy, only {@code db.CopyPipe} opens,
 * completes or cancels a COPY into the warehouse, only {@code source.SourceSession} copies out of the source, and only
 * {@code cdc.SlotFeedback} tells the replication stream's server where it stands. docs/architecture.md draws the layers.
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
    void theLandingSideDoesNotReachTheReader() {
        noClasses().that().resideInAPackage("datakit.bronze..")
            .should().dependOnClassesThat().resideInAPackage("datakit.source..")
            .check(LIBRARY);
    }

    /** A COPY into the warehouse that some failure leaves open, or completes, is the trap CopyPipe exists for. */
    @Test
    void onlyTheCopyPipeOpensCompletesOrCancelsACopy() {
        noClasses().that().haveNameNotMatching("datakit\\.db\\.CopyPipe(\\$.*)?")
            .should().callMethodWhere(target(owner(assignableTo(CopyManager.class))).and(target(nameMatching("copyIn"))))
            .orShould().callMethodWhere(target(owner(assignableTo(CopyOperation.class))).and(target(nameMatching("endCopy|cancelCopy"))))
            .check(LIBRARY);
    }

    /**
     * What a load does for JSON beyond its copy (child tables, rejected values counted, key profiles saved and shown) is done
     * by one seam, {@code run.JsonLoad}, which full and incremental loads share; no mode keeps a copy of it.
     */
    @Test
    void oneSeamDoesWhatALoadDoesForJsonBeyondItsCopy() {
        noClasses().that().resideOutsideOfPackages("datakit.json..", "datakit.report..")
            .and().haveNameNotMatching("datakit\\.run\\.JsonLoad(\\$.*)?")
            .should().callMethod(BronzeLoad.class, "rejected")
            .orShould().callMethod(ReadPlan.class, "children")
            .orShould().dependOnClassesThat(type(KeyProfiles.class).or(type(KeyProfileTable.class)))
            .check(LIBRARY);
    }

    /** The session holds the source's transaction and its connection; planning a read only writes SQL and reads the catalog. */
    @Test
    void onlyTheSourceSessionCopiesOutOfTheSource() {
        noClasses().that().haveNameNotMatching("datakit\\.source\\.SourceSession(\\$.*)?")
            .should().callMethodWhere(target(owner(assignableTo(CopyManager.class))).and(target(nameMatching("copyOut"))))
            .check(LIBRARY);
    }

    /** What the slot hears (the confirmed position, status updates) is sent from one place, on the reader's thread. */
    @Test
    void onlyTheSlotFeedbackTellsTheServerWhereTheStreamStands() {
        noClasses().that().haveNameNotMatching("datakit\\.cdc\\.SlotFeedback(\\$.*)?")
            .should().callMethodWhere(target(owner(assignableTo(PGReplicationStream.class)))
                .and(target(nameMatching("setFlushedLSN|setAppliedLSN|forceUpdateStatus"))))
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

    /**
     * The datakit scripts (compiled with the tests, in the default package) use the library's face: the command line, the
     * error type, each mode's entry point and the run it reports to, the tools' entry points and a few values; never a
     * mode's, the reader's or the landing's insides.
     */
    @Test
    void theDatakitsReachOnlyTheLibrarysFace() {
        JavaClasses scripts = new ClassFileImporter().importPath(Path.of("target/test-classes"));
        classes().that().resideInAPackage("")
            .should().onlyDependOnClassesThat(resideInAnyPackage("", "java..", "picocli..", "datakit.cli..", "datakit.error..",
                "datakit.ops..", "datakit.jobs..", "datakit.demo..", "datakit.sandbox..")
                .or(type(FullExtract.class)).or(type(IncrementalExtract.class)).or(type(Increment.class))
                .or(type(PartitionedExtract.class)).or(type(PartitionedPlan.class)).or(type(CdcExtract.class))
                .or(type(RunContext.class)).or(type(BronzeSchemas.class)).or(type(Database.class))
                .or(type(WriteMode.class)).or(type(Identifiers.class)).or(type(Role.class)).or(type(TableSets.class)))
            .check(scripts.that(resideInAPackage("")));
    }
}
