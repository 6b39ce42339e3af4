package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

func TestNewHTTPServerSetsEveryLimit(t *testing.T) {
	cfg := config{
		ReadHeaderTimeout: 1 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second,
		IdleTimeout: 4 * time.Second,
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := newHTTPServer(cfg, http.NotFoundHandler(), logger, nil)
	if srv.ReadHeaderTimeout != time.Second || srv.ReadTimeout != 2*time.Second ||
		srv.WriteTimeout != 3*time.Second || srv.IdleTimeout != 4*time.Second {
		t.Errorf("timeouts = %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes != 16<<10 {
		t.Errorf("MaxHeaderBytes = %d, want 16 KiB", srv.MaxHeaderBytes)
	}
	if srv.ErrorLog == nil {
		t.Error("ErrorLog not set: net/http would log to stderr, not as JSON")
	}
	if srv.TLSConfig != nil {
		t.Error("TLSConfig set without a certificate")
	}

	// Go's server already defaults to TLS 1.2, but that default has moved
	// before (and GODEBUG can move it back); the floor is ours to keep.
	srv = newHTTPServer(cfg, http.NotFoundHandler(), logger, &tls.Certificate{})
	if srv.TLSConfig == nil || srv.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("TLSConfig = %+v, want MinVersion TLS 1.2", srv.TLSConfig)
	}
}
