// The shared library, as JBang sees it. A datakit pulls it in with one SOURCES line pointing here,
// and JBang follows the lines below: the dependencies, once for every datakit; each source file by
// name; the migrations as resources. Files are listed one by one, not with a glob, because JBang
// skips SOURCES globs when a script runs from a URL (a remote catalog), while named files it fetches.
// tests/java/datakit/LibraryIndexTest.java fails, printing the right list, when this list and
// shared/src drift apart. Transitive versions are pinned where JBang's resolver would pick other
// versions than Maven's (JBangIT compares the two class paths).
//
//DEPS org.jooq:jooq:3.21.7
//DEPS org.postgresql:postgresql:42.7.14
//DEPS com.zaxxer:HikariCP:7.1.0
//DEPS org.flywaydb:flyway-database-postgresql:13.12.0
//DEPS com.fasterxml.jackson.core:jackson-databind:2.22.4
//DEPS com.fasterxml.jackson.core:jackson-core:2.22.4
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.22.4
//DEPS org.slf4j:slf4j-api:2.0.17
//DEPS org.slf4j:slf4j-simple:2.0.17
//
// picocli comes as source (src/main/java/picocli/CommandLine.java, the file of the sources jar of
// info.picocli:picocli:4.7.7 unchanged, SHA-256 ab19325b58729b4fb7530af5e07151f9336620e1c0e9afead798bf48ec94c086),
// as its authors offer it. Its jar is built for Java 5, whose classes the JVM's ahead-of-time cache cannot
// hold: loaded from the jar on every run, it cost a scheduled run 40 ms and 50 ms of CPU (a tenth of a
// no-op run). To upgrade, replace the file with the new version's and update the version and hash here.
//
// The serial collector suits a datakit's small heap and leaves the cores to the databases, and so
// does stopping at the quick JIT compiler (C1): a datakit passes bytes along rather than computes,
// and on a machine whose cores the database servers keep busy, the optimising compiler's work cost
// more than it saved (a 5-million-row extract on 2 cores: 1.4 s faster, 0.6 s less CPU). (Each
// datakit's header also asks for a class-data archive, //CDS, which JBang only reads there; its
// first run writes the archive, and the JVM's notes about classes it skips are not for users.)
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xlog:cds=off -Xlog:cds+dynamic=off
//
//FILES db/bronze/V1__create_bookkeeping_tables.sql=../migrations/V1__create_bookkeeping_tables.sql
//FILES db/bronze/V2__staged_run_status.sql=../migrations/V2__staged_run_status.sql
//FILES db/bronze/V3__json_key_profiles.sql=../migrations/V3__json_key_profiles.sql
//FILES db/bronze/V4__bronze_rejects.sql=../migrations/V4__bronze_rejects.sql
//FILES db/bronze/V5__json_key_paths_of_any_length.sql=../migrations/V5__json_key_paths_of_any_length.sql
//FILES db/bronze/V6__schema_changes.sql=../migrations/V6__schema_changes.sql
//FILES db/bronze/V7__table_set_runs.sql=../migrations/V7__table_set_runs.sql
//FILES db/bronze/R__bronze_views.sql=../migrations/R__bronze_views.sql
//
//SOURCES src/main/java/datakit/bookkeeping/RunLog.java
//SOURCES src/main/java/datakit/bookkeeping/SetRunLog.java
//SOURCES src/main/java/datakit/bookkeeping/StreamGuard.java
//SOURCES src/main/java/datakit/bookkeeping/StreamLock.java
//SOURCES src/main/java/datakit/bookkeeping/StreamRename.java
//SOURCES src/main/java/datakit/bronze/Backfill.java
//SOURCES src/main/java/datakit/bronze/BronzeLoad.java
//SOURCES src/main/java/datakit/bronze/BronzeMetadata.java
//SOURCES src/main/java/datakit/bronze/BronzeParts.java
//SOURCES src/main/java/datakit/bronze/BronzeTable.java
//SOURCES src/main/java/datakit/bronze/BronzeWrite.java
//SOURCES src/main/java/datakit/bronze/ConflictPolicy.java
//SOURCES src/main/java/datakit/bronze/FlattenedValues.java
//SOURCES src/main/java/datakit/bronze/JsonTextColumns.java
//SOURCES src/main/java/datakit/bronze/Landing.java
//SOURCES src/main/java/datakit/bronze/LandingColumn.java
//SOURCES src/main/java/datakit/bronze/LargeObjectColumns.java
//SOURCES src/main/java/datakit/bronze/Layout.java
//SOURCES src/main/java/datakit/bronze/Rejects.java
//SOURCES src/main/java/datakit/bronze/SchemaChange.java
//SOURCES src/main/java/datakit/bronze/SchemaChangeLog.java
//SOURCES src/main/java/datakit/bronze/SchemaEvolution.java
//SOURCES src/main/java/datakit/bronze/SchemaPolicy.java
//SOURCES src/main/java/datakit/bronze/TableLocks.java
//SOURCES src/main/java/datakit/bronze/TypeWidening.java
//SOURCES src/main/java/datakit/bronze/VanishedKeys.java
//SOURCES src/main/java/datakit/bronze/WriteMode.java
//SOURCES src/main/java/datakit/cdc/ApplySource.java
//SOURCES src/main/java/datakit/cdc/CaptureCounts.java
//SOURCES src/main/java/datakit/cdc/CapturedTables.java
//SOURCES src/main/java/datakit/cdc/CdcDryRun.java
//SOURCES src/main/java/datakit/cdc/CdcExtract.java
//SOURCES src/main/java/datakit/cdc/CdcRequest.java
//SOURCES src/main/java/datakit/cdc/CdcSource.java
//SOURCES src/main/java/datakit/cdc/ChangeBatch.java
//SOURCES src/main/java/datakit/cdc/ChangeCapture.java
//SOURCES src/main/java/datakit/cdc/ChangeStream.java
//SOURCES src/main/java/datakit/cdc/ChangeTable.java
//SOURCES src/main/java/datakit/cdc/CommitTimes.java
//SOURCES src/main/java/datakit/cdc/CopyText.java
//SOURCES src/main/java/datakit/cdc/MessageFraming.java
//SOURCES src/main/java/datakit/cdc/MessageReader.java
//SOURCES src/main/java/datakit/cdc/PartitionLeaves.java
//SOURCES src/main/java/datakit/cdc/Publications.java
//SOURCES src/main/java/datakit/cdc/Reconnects.java
//SOURCES src/main/java/datakit/cdc/Recorded.java
//SOURCES src/main/java/datakit/cdc/ReplicaIdentities.java
//SOURCES src/main/java/datakit/cdc/ReplicationProbe.java
//SOURCES src/main/java/datakit/cdc/ReplicationSession.java
//SOURCES src/main/java/datakit/cdc/SlotCheckpoint.java
//SOURCES src/main/java/datakit/cdc/SlotDrop.java
//SOURCES src/main/java/datakit/cdc/SlotFeedback.java
//SOURCES src/main/java/datakit/cdc/SlotPosition.java
//SOURCES src/main/java/datakit/cdc/SlotStart.java
//SOURCES src/main/java/datakit/cdc/StateApply.java
//SOURCES src/main/java/datakit/cdc/StopSignal.java
//SOURCES src/main/java/datakit/cdc/StreamEnd.java
//SOURCES src/main/java/datakit/cdc/StreamSource.java
//SOURCES src/main/java/datakit/cdc/StreamTables.java
//SOURCES src/main/java/datakit/cdc/StreamedTransactions.java
//SOURCES src/main/java/datakit/cdc/TableIdentities.java
//SOURCES src/main/java/datakit/cdc/TableShape.java
//SOURCES src/main/java/datakit/cdc/UnknownValues.java
//SOURCES src/main/java/datakit/cdc/ValueBackfill.java
//SOURCES src/main/java/datakit/cdc/ValueRefresh.java
//SOURCES src/main/java/datakit/cdc/WalEnd.java
//SOURCES src/main/java/datakit/cdc/pgoutput/MessageBuffer.java
//SOURCES src/main/java/datakit/cdc/pgoutput/MessageType.java
//SOURCES src/main/java/datakit/cdc/pgoutput/PgOutput.java
//SOURCES src/main/java/datakit/cdc/pgoutput/PgOutputDecoder.java
//SOURCES src/main/java/datakit/checkpoint/Checkpoint.java
//SOURCES src/main/java/datakit/checkpoint/CheckpointStore.java
//SOURCES src/main/java/datakit/checkpoint/CursorCheckpoint.java
//SOURCES src/main/java/datakit/checkpoint/PartStore.java
//SOURCES src/main/java/datakit/checkpoint/Position.java
//SOURCES src/main/java/datakit/checkpoint/ReadFilter.java
//SOURCES src/main/java/datakit/checkpoint/SourcePosition.java
//SOURCES src/main/java/datakit/checkpoint/XidRanges.java
//SOURCES src/main/java/datakit/checkpoint/XminCheckpoint.java
//SOURCES src/main/java/datakit/cli/BronzeOptions.java
//SOURCES src/main/java/datakit/cli/CdcOptions.java
//SOURCES src/main/java/datakit/cli/CheckedOptions.java
//SOURCES src/main/java/datakit/cli/Datakit.java
//SOURCES src/main/java/datakit/cli/DatakitCommand.java
//SOURCES src/main/java/datakit/cli/EnvironmentDefaults.java
//SOURCES src/main/java/datakit/cli/IncrementalOptions.java
//SOURCES src/main/java/datakit/cli/JsonOptions.java
//SOURCES src/main/java/datakit/cli/OptionalIncrementalOptions.java
//SOURCES src/main/java/datakit/cli/PartitionOptions.java
//SOURCES src/main/java/datakit/cli/SelectionOptions.java
//SOURCES src/main/java/datakit/cli/SetOptions.java
//SOURCES src/main/java/datakit/cli/SizeOption.java
//SOURCES src/main/java/datakit/cli/SourceOptions.java
//SOURCES src/main/java/datakit/cli/WarehouseOptions.java
//SOURCES src/main/java/datakit/config/ConfigFile.java
//SOURCES src/main/java/datakit/config/ConnectionResolver.java
//SOURCES src/main/java/datakit/config/ConnectionSettings.java
//SOURCES src/main/java/datakit/config/ConnectionUrl.java
//SOURCES src/main/java/datakit/config/DotEnv.java
//SOURCES src/main/java/datakit/config/Environment.java
//SOURCES src/main/java/datakit/config/PgParam.java
//SOURCES src/main/java/datakit/config/PgPass.java
//SOURCES src/main/java/datakit/config/Role.java
//SOURCES src/main/java/datakit/config/Secret.java
//SOURCES src/main/java/datakit/config/ServerOptions.java
//SOURCES src/main/java/datakit/db/CopyPipe.java
//SOURCES src/main/java/datakit/db/Database.java
//SOURCES src/main/java/datakit/db/DedicatedConnections.java
//SOURCES src/main/java/datakit/db/Grants.java
//SOURCES src/main/java/datakit/db/Migrations.java
//SOURCES src/main/java/datakit/db/OptionalRow.java
//SOURCES src/main/java/datakit/db/PoolSafeDataSource.java
//SOURCES src/main/java/datakit/db/RecoveryConflict.java
//SOURCES src/main/java/datakit/db/ReplayLag.java
//SOURCES src/main/java/datakit/db/Retry.java
//SOURCES src/main/java/datakit/db/SqlErrors.java
//SOURCES src/main/java/datakit/db/TransactionSettings.java
//SOURCES src/main/java/datakit/error/DatakitException.java
//SOURCES src/main/java/datakit/error/ExitCode.java
//SOURCES src/main/java/datakit/full/BlockRanges.java
//SOURCES src/main/java/datakit/full/FullExtract.java
//SOURCES src/main/java/datakit/full/SharedSnapshot.java
//SOURCES src/main/java/datakit/full/Splitting.java
//SOURCES src/main/java/datakit/incremental/CheckpointCheck.java
//SOURCES src/main/java/datakit/incremental/Increment.java
//SOURCES src/main/java/datakit/incremental/IncrementalAttempt.java
//SOURCES src/main/java/datakit/incremental/IncrementalExtract.java
//SOURCES src/main/java/datakit/incremental/LockedConnection.java
//SOURCES src/main/java/datakit/incremental/ReadStart.java
//SOURCES src/main/java/datakit/incremental/RunTotals.java
//SOURCES src/main/java/datakit/jobs/JobFile.java
//SOURCES src/main/java/datakit/jobs/JobRunner.java
//SOURCES src/main/java/datakit/json/ExplodeSpec.java
//SOURCES src/main/java/datakit/json/Flatten.java
//SOURCES src/main/java/datakit/json/FlattenSpec.java
//SOURCES src/main/java/datakit/json/Flattening.java
//SOURCES src/main/java/datakit/json/KeyProfile.java
//SOURCES src/main/java/datakit/json/KeyProfiles.java
//SOURCES src/main/java/datakit/json/KeyTypes.java
//SOURCES src/main/java/datakit/ops/DbtSources.java
//SOURCES src/main/java/datakit/ops/DiscoveredJobs.java
//SOURCES src/main/java/datakit/ops/Discovery.java
//SOURCES src/main/java/datakit/ops/Health.java
//SOURCES src/main/java/datakit/ops/HealthReport.java
//SOURCES src/main/java/datakit/ops/RunHistory.java
//SOURCES src/main/java/datakit/partitioned/PartWorker.java
//SOURCES src/main/java/datakit/partitioned/PartitionedDryRun.java
//SOURCES src/main/java/datakit/partitioned/PartitionedExtract.java
//SOURCES src/main/java/datakit/partitioned/PartitionedLoad.java
//SOURCES src/main/java/datakit/partitioned/PartitionedPlan.java
//SOURCES src/main/java/datakit/partitioned/Shard.java
//SOURCES src/main/java/datakit/partitioned/SharedLoad.java
//SOURCES src/main/java/datakit/report/KeyProfileTable.java
//SOURCES src/main/java/datakit/report/Lineage.java
//SOURCES src/main/java/datakit/report/Metrics.java
//SOURCES src/main/java/datakit/report/PartsProgress.java
//SOURCES src/main/java/datakit/report/Progress.java
//SOURCES src/main/java/datakit/report/RunContext.java
//SOURCES src/main/java/datakit/report/RunSummary.java
//SOURCES src/main/java/datakit/report/Sizes.java
//SOURCES src/main/java/datakit/run/BronzeSchemas.java
//SOURCES src/main/java/datakit/run/CopyIntoBronze.java
//SOURCES src/main/java/datakit/run/DryRun.java
//SOURCES src/main/java/datakit/run/JsonLoad.java
//SOURCES src/main/java/datakit/run/Landings.java
//SOURCES src/main/java/datakit/run/LoadChoice.java
//SOURCES src/main/java/datakit/run/RecordedRun.java
//SOURCES src/main/java/datakit/run/SchemaChangeNotes.java
//SOURCES src/main/java/datakit/source/CursorOrder.java
//SOURCES src/main/java/datakit/source/ExplodedReads.java
//SOURCES src/main/java/datakit/source/FlatColumns.java
//SOURCES src/main/java/datakit/source/IncrementalSource.java
//SOURCES src/main/java/datakit/source/KeyInterval.java
//SOURCES src/main/java/datakit/source/LandingTypes.java
//SOURCES src/main/java/datakit/source/LargeObjects.java
//SOURCES src/main/java/datakit/source/Mappings.java
//SOURCES src/main/java/datakit/source/Part.java
//SOURCES src/main/java/datakit/source/PartitionCatalog.java
//SOURCES src/main/java/datakit/source/PartitionedSource.java
//SOURCES src/main/java/datakit/source/ReadPlan.java
//SOURCES src/main/java/datakit/source/ReadPlanner.java
//SOURCES src/main/java/datakit/source/ReadRefusal.java
//SOURCES src/main/java/datakit/source/ReadSql.java
//SOURCES src/main/java/datakit/source/RowSecurity.java
//SOURCES src/main/java/datakit/source/SchemaFingerprint.java
//SOURCES src/main/java/datakit/source/Selection.java
//SOURCES src/main/java/datakit/source/SourceCatalog.java
//SOURCES src/main/java/datakit/source/SourceColumn.java
//SOURCES src/main/java/datakit/source/SourceProgress.java
//SOURCES src/main/java/datakit/source/SourceSession.java
//SOURCES src/main/java/datakit/source/Split.java
//SOURCES src/main/java/datakit/source/TableSet.java
//SOURCES src/main/java/datakit/source/TransactionStatus.java
//SOURCES src/main/java/datakit/source/Xmin.java
//SOURCES src/main/java/datakit/sql/Identifiers.java
//SOURCES src/main/java/datakit/sql/PositionalResults.java
//SOURCES src/main/java/datakit/sql/Sql.java
//SOURCES src/main/java/datakit/sql/SqlFragment.java
//SOURCES src/main/java/datakit/sql/TablePattern.java
//SOURCES src/main/java/datakit/sql/TableRef.java
//SOURCES src/main/java/datakit/tableset/IncrementalLoads.java
//SOURCES src/main/java/datakit/tableset/SetIncrement.java
//SOURCES src/main/java/datakit/tableset/SetOutcome.java
//SOURCES src/main/java/datakit/tableset/TableSetRun.java
//SOURCES src/main/java/datakit/tableset/TableSets.java
//SOURCES src/main/java/datakit/wal/Lsn.java
//SOURCES src/main/java/picocli/CommandLine.java
