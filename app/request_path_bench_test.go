package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRequestPath is the per-request cost of the service's handler
// chain (access log, mux, greeting) without the network: what a change to
// middleware_log.go, routes.go or handle_hello.go adds or saves. Log lines
// are encoded and queued as in production (newLogger), then discarded.
//
//	go test -run '^$' -bench RequestPath -benchmem
func BenchmarkRequestPath(b *testing.B) {
	logger, logs := newLogger(io.Discard)
	defer logs.Close(time.Minute)
	h := NewServer(logger, "Hello", buildInfo{}, &readiness{})
	req := httptest.NewRequest(http.MethodGet, "/world", nil)
	w := &discardResponseWriter{header: http.Header{}}
	b.ReportAllocs()
	defer reportCPUPerOp(b)()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkAccessLogToPipe is the cost of one access log line written the
// way the service writes it to its stdout, a pipe in a container, by many
// request goroutines at once. Run with -cpu 2 or more.
func BenchmarkAccessLogToPipe(b *testing.B) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, r); close(drained) }()
	logger, logs := newLogger(w)
	h := logRequests(logger, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	b.ReportAllocs()
	defer reportCPUPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/world", nil)
		rw := &discardResponseWriter{header: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(rw, req)
		}
	})
	b.StopTimer()
	// A line dropped is a line not written: the cost per op would be too
	// low. The reader above keeps up, so this stays 0; if it does not, the
	// result says so.
	b.ReportMetric(float64(logs.Close(time.Minute).Dropped)/float64(b.N), "dropped/op")
	_ = w.Close()
	<-drained
	_ = r.Close()
}

// discardResponseWriter is the cheapest http.ResponseWriter: unlike
// httptest.ResponseRecorder it costs nothing per request, so the benchmark
// measures the service's code, not the recorder's.
type discardResponseWriter struct {
	header http.Header
}

func (d *discardResponseWriter) Header() http.Header         { return d.header }
func (d *discardResponseWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponseWriter) WriteHeader(int)             {}

// reportCPUPerOp adds cpu-ns/op: the process's CPU time (user and system,
// every goroutine, the kernel's share of write(2) included) per operation.
// On a machine shared with other work it varies far less than ns/op, which
// is wall time. Call as defer reportCPUPerOp(b)().
func reportCPUPerOp(b *testing.B) func() {
	start := cpuTime(b)
	return func() {
		b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
