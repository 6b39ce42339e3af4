package main

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// The kubelet's probes are served on a listener of their own (PROBE_PORT),
// which the Service does not expose and the NetworkPolicy does not open:
// only the pod's own node reaches it (Kubernetes always allows a node's
// traffic to its pods; docs/decisions/0034-probe-port-and-log-drops.md).
// On the public port the probes waited in the same accept queue as every
// client: connections that never finish their headers, reopened as the
// server closed them, held all MAX_CONNECTIONS slots, and the kubelet
// restarted healthy pods in the middle of the attack (issue 27).
const (
	// probeMaxConnections caps the probe listener's connections, so that it
	// bounds memory like the public one (testdata/connection-memory.json
	// counts them). The kubelet runs at most three probes of a container at
	// once (startup, liveness, readiness), each on a new connection.
	probeMaxConnections = 16

	// probeTimeout is every timeout of the probe server. A probe is one
	// small request answered in microseconds; the kubelet gives up after
	// the probe's timeoutSeconds (2 s in lib/manifests/workload.ts).
	probeTimeout = 2 * time.Second
)

// NewProbeServer returns the probe listener's handler: /healthz and /readyz,
// logged like every request (the bake's `signals` alarm counts probe lines
// to know the log path works: lib/constructs/alarms.ts).
func NewProbeServer(logger *slog.Logger, ready *readiness) http.Handler {
	mux := http.NewServeMux()
	addProbeRoutes(mux, ready)
	return logRequests(logger, mux)
}

// newProbeHTTPServer is the probe listener's http.Server: short timeouts
// and no keep-alive (the kubelet opens a connection per probe), so that no
// client holds one of its few connections for long. Plain HTTP even when
// the public port serves TLS: the kubelet's httpGet probes default to HTTP,
// and nothing secret crosses this port.
func newProbeHTTPServer(handler http.Handler, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: probeTimeout,
		ReadTimeout:       probeTimeout,
		WriteTimeout:      probeTimeout,
		IdleTimeout:       probeTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.SetKeepAlivesEnabled(false)
	return srv
}

// limitProbeConnections caps the probe listener at probeMaxConnections.
// Without keep-alive there are no idle connections to shed.
func limitProbeConnections(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, probeMaxConnections)
}
