package main

import (
	"net/http"
	"testing"
)

func TestHealthzAlwaysOK(t *testing.T) {
	h, ready := newTestServer("Hello")
	for _, draining := range []bool{false, true} {
		if draining {
			ready.startDraining()
		}
		rec := serve(h, http.MethodGet, "/healthz")
		if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
			t.Errorf("draining=%v: /healthz = %d %q, want 200 ok", draining, rec.Code, rec.Body)
		}
	}
}

func TestReadyzFailsWhileDraining(t *testing.T) {
	h, ready := newTestServer("Hello")
	rec := serve(h, http.MethodGet, "/readyz")
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz before draining = %d, want 200", rec.Code)
	}
	ready.startDraining()
	rec = serve(h, http.MethodGet, "/readyz")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining = %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}
