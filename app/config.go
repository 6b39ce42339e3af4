package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// config is everything the service reads from its environment. It is read
// once, at start, by loadConfig; nothing reads the environment afterwards.
type config struct {
	Host      string // HOST: interface to listen on; empty means all
	Port      int    // PORT: 0 picks a free port (tests use it)
	ProbePort int    // PROBE_PORT: the probes' own listener; 0 picks a free port
	Greeting  string // HELLO

	ReadHeaderTimeout time.Duration // READ_HEADER_TIMEOUT
	ReadTimeout       time.Duration // READ_TIMEOUT
	WriteTimeout      time.Duration // WRITE_TIMEOUT
	IdleTimeout       time.Duration // IDLE_TIMEOUT
	ShutdownTimeout   time.Duration // SHUTDOWN_TIMEOUT
	DrainDelay        time.Duration // DRAIN_DELAY

	TLSCertFile string // TLS_CERT_FILE
	TLSKeyFile  string // TLS_KEY_FILE

	MaxConnections int // MAX_CONNECTIONS
}

// Defaults. README.md documents each of them; keep the two in step.
const (
	defaultPort = 8080
	// defaultProbePort is where /healthz and /readyz are served for the
	// kubelet, apart from the public listener and its connection cap
	// (probe_listener.go). lib/manifests/workload.ts sets PROBE_PORT to
	// the same number and points the probes at it.
	defaultProbePort         = 8081
	defaultGreeting          = "Hello"
	defaultReadHeaderTimeout = 5 * time.Second
	defaultReadTimeout       = 10 * time.Second
	defaultWriteTimeout      = 10 * time.Second
	// Longer than the AWS load balancers' 60 s idle timeout, so that the
	// load balancer, not this server, closes idle keep-alive connections;
	// the other way round it may send a request on a connection we are
	// closing and answer the client 502. See "Connection idle timeout" in
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html
	defaultIdleTimeout     = 75 * time.Second
	defaultShutdownTimeout = 10 * time.Second
	defaultDrainDelay      = 5 * time.Second

	// maxReadHeaderTimeout bounds how long a client may take to send its
	// headers: a slowloris client holds a connection at most this long.
	maxReadHeaderTimeout = 5 * time.Second

	// minTimeout is the floor of every server timeout: below about a
	// second a client on an ordinary network cannot finish a request, so a
	// smaller value (WRITE_TIMEOUT=1ns, 5ms for 5s) fails every request.
	minTimeout = time.Second
	// maxRequestTimeout bounds READ_TIMEOUT and WRITE_TIMEOUT: this
	// service answers in microseconds; minutes only let a slow client
	// hold a connection (and a MAX_CONNECTIONS slot) longer.
	maxRequestTimeout = 5 * time.Minute
	// maxIdleTimeout bounds IDLE_TIMEOUT, well above any AWS load
	// balancer's idle timeout (60 s ALB default, 350 s NLB).
	maxIdleTimeout = time.Hour
	// maxStopTimeout bounds SHUTDOWN_TIMEOUT and DRAIN_DELAY: together
	// they must fit in the pod's terminationGracePeriodSeconds.
	maxStopTimeout = 5 * time.Minute

	// defaultMaxConnections caps concurrent connections so that they
	// cannot outgrow the pod's memory limit. Derived from the measured cost
	// of an idle connection (testdata/connection-memory.json, README.md
	// "Connections and memory"): this many cost well under the limit.
	defaultMaxConnections = 2000
	minMaxConnections     = 16 // room for probes and load balancer health checks
	maxMaxConnections     = 1_000_000

	// maxGreetingRunes bounds HELLO; it is echoed in every response.
	maxGreetingRunes = 64
)

// loadConfig reads and validates the configuration. Every problem found is
// reported, one per line, each naming its variable, so that one failed
// start shows all that needs fixing.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Host:        getenv("HOST"),
		Greeting:    getenv("HELLO"),
		TLSCertFile: getenv("TLS_CERT_FILE"),
		TLSKeyFile:  getenv("TLS_KEY_FILE"),
	}
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, args...)))
	}

	if cfg.Host != "" && net.ParseIP(cfg.Host) == nil {
		fail("HOST", "must be an IP address such as 0.0.0.0 or 127.0.0.1, or empty for all interfaces, got %q", cfg.Host)
	}

	cfg.Port = defaultPort
	if raw := getenv("PORT"); raw != "" {
		port, err := strconv.Atoi(raw)
		if err != nil || port < 0 || port > 65535 {
			fail("PORT", "must be 1-65535 (or 0 for any free port), got %q", raw)
		}
		cfg.Port = port
	}

	cfg.ProbePort = defaultProbePort
	if raw := getenv("PROBE_PORT"); raw != "" {
		port, err := strconv.Atoi(raw)
		if err != nil || port < 0 || port > 65535 {
			fail("PROBE_PORT", "must be 1-65535 (or 0 for any free port), got %q", raw)
		}
		cfg.ProbePort = port
	}
	if cfg.ProbePort == cfg.Port && cfg.Port != 0 {
		fail("PROBE_PORT", "must differ from PORT (both are %d): the probes get a listener of their own, which the public one cannot starve", cfg.Port)
	}

	cfg.MaxConnections = defaultMaxConnections
	if raw := getenv("MAX_CONNECTIONS"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < minMaxConnections || n > maxMaxConnections {
			fail("MAX_CONNECTIONS", "must be a whole number from %d to %d, got %q", minMaxConnections, maxMaxConnections, raw)
		} else {
			cfg.MaxConnections = n
		}
	}

	if cfg.Greeting == "" {
		cfg.Greeting = defaultGreeting
	}
	if err := checkText(cfg.Greeting, maxGreetingRunes); err != nil {
		fail("HELLO", "%v", err)
	}

	// Every duration has a floor and a ceiling: a zero server timeout
	// means "no timeout" to net/http, which this service must not have, and
	// an absurd one (1ns, 1000h) either fails every request or lets a
	// client hold a connection for days.
	durations := []struct {
		name          string
		dst           *time.Duration
		def, min, max time.Duration
	}{
		{"READ_HEADER_TIMEOUT", &cfg.ReadHeaderTimeout, defaultReadHeaderTimeout, minTimeout, maxReadHeaderTimeout},
		{"READ_TIMEOUT", &cfg.ReadTimeout, defaultReadTimeout, minTimeout, maxRequestTimeout},
		{"WRITE_TIMEOUT", &cfg.WriteTimeout, defaultWriteTimeout, minTimeout, maxRequestTimeout},
		{"IDLE_TIMEOUT", &cfg.IdleTimeout, defaultIdleTimeout, minTimeout, maxIdleTimeout},
		{"SHUTDOWN_TIMEOUT", &cfg.ShutdownTimeout, defaultShutdownTimeout, minTimeout, maxStopTimeout},
		{"DRAIN_DELAY", &cfg.DrainDelay, defaultDrainDelay, 0, maxStopTimeout},
	}
	for _, d := range durations {
		*d.dst = d.def
		raw := getenv(d.name)
		if raw == "" {
			continue
		}
		v, err := time.ParseDuration(raw)
		switch {
		case err != nil:
			fail(d.name, "must be a Go duration such as \"5s\" or \"750ms\", got %q", raw)
		case v < d.min || v > d.max:
			fail(d.name, "must be from %s to %s, got %q", d.min, d.max, raw)
		default:
			*d.dst = v
		}
	}

	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		fail("TLS_CERT_FILE/TLS_KEY_FILE", "set both to serve TLS, or neither for plain HTTP")
	}

	return cfg, errors.Join(errs...)
}

// tlsEnabled reports whether the server terminates TLS itself.
func (c config) tlsEnabled() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// checkText accepts text that is valid UTF-8, holds no control characters
// and is at most maxRunes characters long. It guards both the greeting and
// the name, which together make the response body.
func checkText(s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return fmt.Errorf("longer than %d characters (%d)", maxRunes, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errors.New("contains control characters")
		}
	}
	return nil
}
