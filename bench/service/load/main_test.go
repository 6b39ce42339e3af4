package main

import (
	"strings"
	"testing"
)

// The service's own lines, as app/log_writer.go and app/run.go write them
// (their field names are checked there: log_writer_test.go and
// run_log_pipe_test.go), cut into chunks the way a pipe delivers them.
func TestLogDropWatcherReadsWhatTheServiceSaysItDropped(t *testing.T) {
	out := `{"time":"2026-12-01T02:00:00Z","level":"INFO","msg":"request","method":"GET","path":"/world","status":200,"duration_ms":0.01,"bytes":13}
{"time":"2026-12-01T02:00:01Z","level":"WARN","msg":"log lines dropped","dropped":40,"dropped_total":40,"reason":"stdout took no lines for 500ms while the log queue was full"}
{"time":"2026-12-01T02:00:02Z","level":"WARN","msg":"log lines dropped","dropped":2,"dropped_total":42,"reason":"stdout took no lines for 500ms while the log queue was full"}
{"time":"2026-12-01T02:00:03Z","level":"INFO","msg":"stopped","log_lines_dropped":45}
`
	for _, chunk := range []int{1, 7, 64, len(out)} {
		w := &logDropWatcher{}
		for rest := out; rest != ""; {
			n := min(chunk, len(rest))
			if _, err := w.Write([]byte(rest[:n])); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if got := w.Dropped(); got != 45 {
			t.Errorf("chunks of %d bytes: Dropped = %d, want 45 (the stopped line's total)", chunk, got)
		}
	}

	w := &logDropWatcher{}
	_, _ = w.Write([]byte(strings.Repeat(`{"level":"INFO","msg":"request","path":"/world"}`+"\n", 100) +
		`{"level":"INFO","msg":"stopped","log_lines_dropped":0}` + "\n"))
	if got := w.Dropped(); got != 0 {
		t.Errorf("nothing dropped: Dropped = %d", got)
	}
}
