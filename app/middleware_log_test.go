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

func TestLogRequestsOneJSONLinePerRequest(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h := NewServer(logger, "Hello", buildInfo{}, &readiness{})

	for _, target := range []string{"/world?token=s3cret", "/%ff", "/a/b"} {
		req := httptest.NewRequest(http.MethodGet, target, strings.NewReader("password=hunter2"))
		req.Header.Set("Authorization", "Bearer topsecret")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	req := httptest.NewRequest(http.MethodPost, "/world", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d log lines, want 4:\n%s", len(lines), buf.String())
	}
	want := []struct {
		method, path string
		status       float64
		bytes        float64
	}{
		{"GET", "/world", 200, float64(len("Hello, world!"))},
		{"GET", "/\xff", 400, float64(len("invalid name: not valid UTF-8\n"))},
		{"GET", "/a/b", 404, float64(len("404 page not found\n"))},
		{"POST", "/world", 405, float64(len("Method Not Allowed\n"))},
	}
	for i, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		w := want[i]
		// JSON cannot hold invalid UTF-8; slog writes U+FFFD instead.
		wantPath := strings.ToValidUTF8(w.path, "\uFFFD")
		if entry["msg"] != "request" || entry["method"] != w.method || entry["path"] != wantPath ||
			entry["status"] != w.status || entry["bytes"] != w.bytes {
			t.Errorf("line %d = %s, want method %s path %q status %v bytes %v", i, line, w.method, wantPath, w.status, w.bytes)
		}
		if _, ok := entry["duration_ms"].(float64); !ok {
			t.Errorf("line %d has no numeric duration_ms: %s", i, line)
		}
	}
	for _, secret := range []string{"s3cret", "hunter2", "topsecret", "token"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, buf.String())
		}
	}
}

func TestStatusRecorderDefaultsTo200(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	silent := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	logRequests(logger, silent).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(buf.String(), `"status":200`) || !strings.Contains(buf.String(), `"bytes":0`) {
		t.Errorf("log = %s, want status 200 and 0 bytes", buf.String())
	}
}
