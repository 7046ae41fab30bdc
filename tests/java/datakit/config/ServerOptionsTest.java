package datakit.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ServerOptionsTest {

    @Test
    void readsTheFormsTheServerReads() {
        assertThat(ServerOptions.parse("-c work_mem=64MB  -cjit=off --statement-timeout=5s --search_path=a,b"))
            .containsExactly(Map.entry("work_mem", "64MB"), Map.entry("jit", "off"), Map.entry("statement_timeout", "5s"),
                Map.entry("search_path", "a,b"));
    }

    @Test
    void aBackslashKeepsASpaceInTheValue() {
        assertThat(ServerOptions.parse("-c application_name=nightly\\ load")).containsExactly(Map.entry("application_name", "nightly load"));
    }

    @Test
    void aLaterSettingOfTheSameNameWins() {
        assertThat(ServerOptions.parse("-c work_mem=1MB -c WORK_MEM=2MB")).containsExactly(Map.entry("work_mem", "2MB"));
    }

    @Test
    void nothingButSettingsIsTaken() {
        assertThatThrownBy(() -> ServerOptions.parse("-B 100")).hasMessage("\"-B\" is not a setting");
        assertThatThrownBy(() -> ServerOptions.parse("-c work_mem")).hasMessage("\"work_mem\" is not name=value");
        assertThatThrownBy(() -> ServerOptions.parse("-c")).hasMessage("the -c at the end has no name=value after it");
        assertThat(ServerOptions.problem("  ")).isEmpty();
    }
}
