package main

import (
	"crypto/tls"
	"log/slog"
	"net/http"
)

// maxHeaderBytes bounds the request line plus headers. net/http answers
// 431 Request Header Fields Too Large past it (it allows 4 KiB of slack on
// top). 16 KiB is far more than this API needs; the default is 1 MiB.
const maxHeaderBytes = 16 << 10

// NewServer returns the service's HTTP handler: every route, wrapped in
// the access log.
func NewServer(logger *slog.Logger, greeting string, build buildInfo, ready *readiness) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, greeting, build, ready)
	var handler http.Handler = mux
	handler = logRequests(logger, handler)
	return handler
}

// newHTTPServer configures an http.Server with every timeout set, so that
// no client can hold a connection or goroutine open indefinitely.
func newHTTPServer(cfg config, handler http.Handler, logger *slog.Logger, cert *tls.Certificate) *http.Server {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// net/http's own complaints (TLS handshake errors, panics in
		// handlers) go to the same JSON log.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cert != nil {
		srv.TLSConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{*cert},
		}
	}
	return srv
}
