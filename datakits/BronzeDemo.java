///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Demo: start a throwaway PostgreSQL, seed a small shop, extract it into bronze and show what landed
//JAVA 21+
//CDS
//SOURCES ../shared/library.java
//SOURCES ../shared/sandbox.java
//SOURCES PostgresExtract.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.demo.DemoShop;
import datakit.sandbox.PostgresSandbox;
import picocli.CommandLine.Command;

@Command(name = "bronze-demo", mixinStandardHelpOptions = true,
    description = "Runs postgres-extract end to end on a throwaway PostgreSQL (Testcontainers with Docker, else local binaries).")
class BronzeDemo extends DatakitCommand {

    @Override
    protected void run(Datakit kit) {
        var out = kit.run().out();
        var err = kit.run().err();
        // 1. Start a throwaway PostgreSQL server; it is stopped and deleted when the demo ends.
        var server = kit.closeAtEnd(PostgresSandbox.start(err::println));
        // 2. Seed a small shop: customers (enum, domain), orders (jsonb, arrays), events (partitioned by month).
        var shop = DemoShop.create(server);
        // 3. Extract each table into the bronze schema with postgres-extract, as a user would.
        for (String table : DemoShop.TABLES) {
            shop.run(new PostgresExtract(), out, err, "--table", table);
        }
        // 4. Show what landed: rows per table, a few rows, the run history.
        shop.showBronze(out);
    }

    public static void main(String... args) {
        exit(new BronzeDemo(), args);
    }
}
