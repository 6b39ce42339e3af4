// Command hello-web greets whoever is named in the request path.
//
// It is the seed's "Hello, world!" service made fit to run behind a load
// balancer: configuration validated at start, every server timeout set,
// health and readiness probes, JSON access logs and a Kubernetes-aware
// graceful shutdown. See README.md for configuration and endpoints.
package main

import (
	"context"
	"fmt"
	"os"
)

// Stamped at build time with
//
//	-ldflags "-X main.version=... -X main.commit=..."
//
// They are variables only because the linker can set nothing else; nothing
// assigns them at run time.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx := context.Background()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s\n", err)
		os.Exit(1)
	}
}
