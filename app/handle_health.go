package main

import (
	"net/http"
	"sync/atomic"
)

// readiness is whether this instance should receive new traffic. It starts
// ready and turns to draining, for good, when shutdown begins.
type readiness struct {
	draining atomic.Bool
}

func (r *readiness) startDraining() { r.draining.Store(true) }

// handleHealthz is the liveness probe: the process is up and serving HTTP.
// It stays 200 while draining; failing it would only get the container
// restarted in the middle of a clean shutdown.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeProbe(w, http.StatusOK, "ok\n")
	})
}

// handleReadyz is the readiness probe: 200 while this instance wants
// traffic, 503 once it is draining for shutdown.
func handleReadyz(ready *readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if ready.draining.Load() {
			writeProbe(w, http.StatusServiceUnavailable, "draining\n")
			return
		}
		writeProbe(w, http.StatusOK, "ok\n")
	})
}

func writeProbe(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
