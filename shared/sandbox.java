// The sandbox, as JBang sees it: a throwaway PostgreSQL server (Testcontainers when a Docker engine
// answers, else local PostgreSQL binaries) and the demo shop seeded into it. Only bronze-demo pulls
// it in, next to library.java, so the datakits do not carry Testcontainers. Files are listed by name
// for the same reason as in library.java; tests/java/datakit/LibraryIndexTest.java keeps the list whole.
// The versions JBang would otherwise resolve differently from Maven are pinned (JBangIT compares).
//
//DEPS org.testcontainers:testcontainers-postgresql:2.0.5
//DEPS org.testcontainers:testcontainers:2.0.5
//DEPS net.java.dev.jna:jna:5.18.1
//DEPS org.jetbrains:annotations:17.0.0
//JAVA_OPTIONS --enable-native-access=ALL-UNNAMED
//
//SOURCES src/main/java/datakit/demo/DemoShop.java
//SOURCES src/main/java/datakit/demo/TextTable.java
//SOURCES src/main/java/datakit/sandbox/ClusterFolder.java
//SOURCES src/main/java/datakit/sandbox/ContainerCluster.java
//SOURCES src/main/java/datakit/sandbox/ExternalCommand.java
//SOURCES src/main/java/datakit/sandbox/LocalCluster.java
//SOURCES src/main/java/datakit/sandbox/PostgresBinaries.java
//SOURCES src/main/java/datakit/sandbox/PostgresSandbox.java
//SOURCES src/main/java/datakit/sandbox/PostgresServer.java
//SOURCES src/main/java/datakit/sandbox/ServerAccount.java
//SOURCES src/main/java/datakit/sandbox/ServerProcess.java
//SOURCES src/main/java/datakit/sandbox/StopOnce.java
