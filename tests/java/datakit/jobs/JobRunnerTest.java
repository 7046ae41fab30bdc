package datakit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The order and skipping rules of the runner, with streams that end as told instead of running a datakit. */
class JobRunnerTest {

    static JobFile.Stream stream(String name, String... dependsOn) {
        return new JobFile.Stream(name, "postgres-extract", List.of(), Map.of(), List.of(dependsOn));
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyDependantOfAFailureIsSkippedWithItsReasonWhateverTheFileOrder() throws InterruptedException {
        // c is listed before b, the stream it waits for: b is skipped after c was looked at in the same pass,
        // and with nothing left running no later pass would come.
        var streams = new LinkedHashMap<String, JobFile.Stream>();
        streams.put("c", stream("c", "b"));
        streams.put("b", stream("b", "a"));
        streams.put("a", stream("a"));
        var file = new JobFile(Path.of("jobs.yml"), 1, streams);

        var report = JobRunner.run(file, 2, s -> new JobRunner.Outcome(s.name().equals("a") ? 1 : 0, s.name().equals("a") ? "ERROR: x" : "", 1));

        assertThat((Map<String, Object>) report.get("a")).containsEntry("status", "failed");
        assertThat((Map<String, Object>) report.get("b")).containsEntry("status", "skipped").containsEntry("reason", "skipped: a failed");
        assertThat((Map<String, Object>) report.get("c")).containsEntry("status", "skipped").containsEntry("reason", "skipped: b was skipped");
    }

    @Test
    void theReportedErrorIsTheLastErrorLineWithoutProgressRedraws() {
        String printed = "WARN: slow\n\u001B[2K\r  12% 1,200 rows\r\u001B[2K  40% 4,000 rows\rERROR: Copying x failed: boom.\nhint\n";

        assertThat(JobRunner.lastError(printed)).isEqualTo("ERROR: Copying x failed: boom.");
        assertThat(JobRunner.lastError("just a line\n")).isEqualTo("just a line");
        assertThat(JobRunner.lastError("")).isEmpty();
    }
}
