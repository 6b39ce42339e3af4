package main

import (
	"net/http"
)

// addRoutes is the whole API surface of the service, in one place.
//
// Every route is GET, which net/http also serves for HEAD; any other
// method gets 405 with "Allow: GET, HEAD" from the mux. The probe and
// version paths are more specific than /{name}, so they win over it: no
// one can be greeted as "healthz", "readyz" or "version".
func addRoutes(mux *http.ServeMux, greeting string, build buildInfo, ready *readiness) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(ready))
	mux.Handle("GET /version", handleVersion(build))
	mux.Handle("GET /{$}", handleHello(greeting))
	mux.Handle("GET /{name}", handleHello(greeting))
}

// addProbeRoutes is the probe listener's API: the two probes and nothing
// else (probe_listener.go). The public listener serves them too, for the
// load balancer's health check and for people.
func addProbeRoutes(mux *http.ServeMux, ready *readiness) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(ready))
}
