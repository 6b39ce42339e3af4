package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// Access log lines are written by a goroutine of their own (log_writer.go).
// A request answered just before SIGTERM must still have its line on
// stdout once run returns, followed by the shutdown's own lines: the
// process exits right after, and a line still queued then is lost.
// Checked without waiting: by the time run returns, everything is written.
func TestRunWritesEveryLogLineBeforeReturning(t *testing.T) {
	t.Parallel()
	s := startRun(t, nil)
	c := newClient()
	if code, _ := get(t, c, "http://"+s.addr+"/last-one"); code != 200 {
		t.Fatalf("GET /last-one = %d", code)
	}
	s.stop() // what SIGTERM does
	if err := s.wait(t); err != nil {
		t.Fatalf("run = %v", err)
	}
	var msgs []string
	found := false
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		msg, _ := e["msg"].(string)
		msgs = append(msgs, msg)
		if msg == "request" && e["path"] == "/last-one" && e["status"] == float64(200) {
			found = true
		}
	}
	if !found {
		t.Errorf("no request line for /last-one once run returned; logs:\n%s", s.logs)
	}
	if len(msgs) == 0 || msgs[len(msgs)-1] != "stopped" {
		t.Errorf("last log line is not \"stopped\" once run returned; logs:\n%s", s.logs)
	}
}
