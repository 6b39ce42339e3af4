package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The bake alarms read this service's access log (lib/constructs/alarms.ts):
// CloudWatch metric filters select lines with msg "request" and read path,
// status and duration_ms; the "signals" alarm counts probe lines to prove
// that the log path is alive even when no user calls. So probes must be
// logged like any other request, with the same fields.
// The kubelet's probes arrive on the probe listener (probe_listener.go): its
// lines must be the same.
func TestProbesAreLoggedWithTheFieldsTheAlarmsRead(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	ready := &readiness{}
	public := NewServer(logger, "Hello", buildInfo{}, ready)
	probes := NewProbeServer(logger, ready)
	for _, path := range []string{"/healthz", "/readyz", "/world"} {
		public.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	ready.startDraining()
	public.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
	probes.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	probes.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []struct {
		path   string
		status float64
	}{{"/healthz", 200}, {"/readyz", 200}, {"/world", 200}, {"/readyz", 503}, {"/healthz", 200}, {"/readyz", 503}}
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if entry["msg"] != "request" || entry["path"] != want[i].path || entry["status"] != want[i].status {
			t.Errorf("line %d = %s, want msg request, path %s, status %v", i, line, want[i].path, want[i].status)
		}
		if _, ok := entry["duration_ms"].(float64); !ok {
			t.Errorf("line %d has no numeric duration_ms: %s", i, line)
		}
	}
}
