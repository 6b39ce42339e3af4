package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// runOption adjusts run for tests; main passes none.
type runOption func(*runOptions)

type runOptions struct {
	// wrapHandler, if set, wraps the service's handler. Tests use it to add
	// a deliberately slow route, which the service itself must not have.
	wrapHandler func(http.Handler) http.Handler
}

// run is the whole program: main only calls it, and tests call it to start
// the real server in-process. It returns when ctx is cancelled or SIGINT or
// SIGTERM arrives and the server has shut down gracefully (nil), or on any
// error. Logs go to stdout, one JSON object a line; the "listening" line
// carries the bound address, which is how callers that asked for PORT=0
// learn the port.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...runOption) error {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}

	build := buildInfo{Version: version, Commit: commit}
	fs := flag.NewFlagSet(progName(args), flag.ContinueOnError)
	fs.SetOutput(stderr)
	printVersion := fs.Bool("version", false, "print the version as JSON and exit")
	if err := fs.Parse(args[min(1, len(args)):]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *printVersion {
		_, err := fmt.Fprintf(stdout, "{\"version\":%q,\"commit\":%q}\n", build.Version, build.Commit)
		return err
	}

	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	var cert *tls.Certificate
	if cfg.tlsEnabled() {
		c, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("config: TLS_CERT_FILE/TLS_KEY_FILE: %w", err)
		}
		cert = &c
	}

	// Lines are written by a goroutine of their own, batched, and all of
	// them before run returns, unless stdout takes nothing: then lines are
	// dropped and counted rather than waited for, and the end of run waits
	// at most logCloseTimeout for them (log_writer.go).
	logger, logs := newLogger(stdout)
	defer closeLogs(logs, stderr)
	ready := &readiness{}
	handler := NewServer(logger, cfg.Greeting, build, ready)
	if o.wrapHandler != nil {
		handler = o.wrapHandler(handler)
	}
	srv := newHTTPServer(cfg, handler, logger, cert)

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The kubelet's probes get a listener of their own, which neither the
	// connection cap below nor the clients of the public port can starve
	// (probe_listener.go).
	probeLn, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.ProbePort)))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("listen on PROBE_PORT: %w", err)
	}
	probeLn = limitProbeConnections(probeLn)
	probeSrv := newProbeHTTPServer(NewProbeServer(logger, ready), logger)
	// Last to stop, after the public server, whatever run returns: the
	// kubelet's liveness probe keeps passing until the process ends.
	defer func() { _ = probeSrv.Close() }()
	probeErr := make(chan error, 1)
	go func() { probeErr <- probeSrv.Serve(probeLn) }()

	// Every open connection costs memory (README.md, "Connections and
	// memory"); past MAX_CONNECTIONS new ones wait in the kernel's accept
	// queue, and past that are refused, instead of the pod being OOM-killed.
	ln = limitConnections(ln, cfg.MaxConnections, srv.SetKeepAlivesEnabled)
	serveErr := make(chan error, 1)
	go func() {
		if cert != nil {
			// The certificate is already in srv.TLSConfig.
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	logger.Info("listening",
		slog.String("addr", ln.Addr().String()),
		slog.String("probe_addr", probeLn.Addr().String()),
		slog.Bool("tls", cert != nil),
		slog.String("version", build.Version),
		slog.String("commit", build.Commit),
		slog.String("drain_delay", cfg.DrainDelay.String()),
		slog.String("shutdown_timeout", cfg.ShutdownTimeout.String()),
		slog.Int("max_connections", cfg.MaxConnections),
	)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case err := <-probeErr:
		return fmt.Errorf("serve probes: %w", err)
	case <-ctx.Done():
	}
	// A second SIGINT or SIGTERM now kills the process at once, the
	// default behaviour: an impatient operator's way out of the drain.
	stopSignals()

	// Kubernetes sends SIGTERM and removes the pod from the Service's
	// endpoints at the same time, and the load balancer (kube-proxy, the
	// AWS load balancer target group) learns of the removal only some
	// seconds later. Until then it keeps sending new requests here. So keep
	// serving, fail /readyz so that every path to this pod closes, and only
	// then stop accepting connections. /readyz fails on both listeners: the
	// kubelet's probe and the load balancer's health check. Same sequence as podinfo:
	// https://github.com/stefanprodan/podinfo/blob/master/pkg/signals/shutdown.go
	// Why: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
	// and https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/pod_readiness_gate/
	ready.startDraining()
	logger.Info("draining", slog.String("drain_delay", cfg.DrainDelay.String()))
	drain := time.NewTimer(cfg.DrainDelay)
	select {
	case <-drain.C:
	case err := <-serveErr:
		drain.Stop()
		return fmt.Errorf("serve: %w", err)
	case err := <-probeErr:
		drain.Stop()
		return fmt.Errorf("serve probes: %w", err)
	}

	logger.Info("shutting down", slog.String("shutdown_timeout", cfg.ShutdownTimeout.String()))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// In-flight requests outlived SHUTDOWN_TIMEOUT: cut them off.
		_ = srv.Close()
		logger.Error("shutdown incomplete", slog.String("error", err.Error()))
		return fmt.Errorf("shutdown: in-flight requests still running after SHUTDOWN_TIMEOUT=%s: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped", slog.Uint64("log_lines_dropped", logs.Dropped()))
	return nil
}

// closeLogs writes the log lines still queued, waiting at most
// logCloseTimeout for stdout to take them. If it takes nothing, what was
// lost cannot be said there: stderr says it, if it can within a second
// (it may be as blocked as stdout, and the process must stop regardless).
func closeLogs(logs *batchWriter, stderr io.Writer) {
	r := logs.Close(logCloseTimeout)
	if !r.TimedOut {
		return
	}
	written := make(chan struct{})
	go func() {
		_, _ = fmt.Fprintf(stderr, "%s\n", r)
		close(written)
	}()
	select {
	case <-written:
	case <-time.After(time.Second):
	}
}

func progName(args []string) string {
	if len(args) == 0 {
		return "hello-web"
	}
	return args[0]
}
