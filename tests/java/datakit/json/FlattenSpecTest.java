package datakit.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.error.DatakitException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class FlattenSpecTest {
    @Test
    void readsAColumnAPathOfKeysAndADepth() {
        assertThat(FlattenSpec.parse("payload")).isEqualTo(new FlattenSpec("payload", List.of(), 1));
        assertThat(FlattenSpec.parse("Payload:3")).isEqualTo(new FlattenSpec("payload", List.of(), 3));
        assertThat(FlattenSpec.parse("\"Pay:load\".customerId:2")).isEqualTo(new FlattenSpec("Pay:load", List.of("customerId"), 2));
        assertThat(FlattenSpec.parse("payload.\"a.b\".\"say \"\"hi\"\"\"")).isEqualTo(new FlattenSpec("payload", List.of("a.b", "say \"hi\""), 1));
    }

    @Test
    void refusesWhatCannotBeAPath() {
        for (String bad : List.of("", "payload:0", "payload:11", "payload:x", "payload..a", "payload.\"a", "a.b.")) {
            assertThatThrownBy(() -> FlattenSpec.parse(bad)).as(bad).isInstanceOf(DatakitException.class).hasMessageContaining("--flatten");
        }
    }

    @Test
    void anExplodedArrayHasNoDepth() {
        assertThat(ExplodeSpec.parse("payload.\"a:b\"")).isEqualTo(new ExplodeSpec("payload", List.of("a:b")));
        assertThatThrownBy(() -> ExplodeSpec.parse("tags:1")).isInstanceOf(DatakitException.class).hasMessageContaining("no depth");
    }

    @Test
    void namesJoinColumnAndKeysAndLongOnesAreCutWithAStableHash() {
        var spec = new FlattenSpec("payload", List.of("customer"), 2);
        assertThat(Flattening.name(spec, List.of("id"))).isEqualTo("payload__customer__id");

        String key = "é".repeat(40);
        String one = Flattening.name(spec, List.of(key, "a"));
        String other = Flattening.name(spec, List.of(key, "b"));
        assertThat(one.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(63);
        assertThat(one).startsWith("payload__customer__é").isNotEqualTo(other).isEqualTo(Flattening.name(spec, List.of(key, "a")));
    }
}
