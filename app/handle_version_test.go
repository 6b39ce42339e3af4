package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestVersionJSON(t *testing.T) {
	h, _ := newTestServer("Hello")
	rec := serve(h, http.MethodGet, "/version")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	// Decode into a map, not buildInfo: the field names themselves are the
	// contract with the pipeline's smoke test.
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	want := map[string]string{"version": "1.2.3", "commit": "abc123"}
	if len(got) != len(want) || got["version"] != want["version"] || got["commit"] != want["commit"] {
		t.Errorf("body = %v, want %v", got, want)
	}
}
