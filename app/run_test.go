package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Generous bounds: these tests must pass on a loaded two-core machine. Each
// is far above what the behaviour under test needs and far below what the
// behaviour's absence would take.
const (
	waitLong = 10 * time.Second
)

// logSink collects the JSON log lines run writes to stdout, so tests can
// wait for a given message (slog writes each line with a single Write).
type logSink struct {
	mu      sync.Mutex
	entries []map[string]any
	raw     bytes.Buffer
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw.Write(p)
	for line := range strings.SplitSeq(strings.TrimSpace(string(p)), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			entry = map[string]any{"msg": "UNPARSEABLE", "line": line}
		}
		s.entries = append(s.entries, entry)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

// waitFor returns the first log entry with the given msg, waiting for it.
func (s *logSink) waitFor(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		s.mu.Lock()
		for _, e := range s.entries {
			if e["msg"] == msg {
				s.mu.Unlock()
				return e
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %q log line within %s; logs:\n%s", msg, waitLong, s.String())
		}
	}
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

// runningServer is run() started in-process on 127.0.0.1 with a free port.
type runningServer struct {
	addr   string
	probe  string // the probe listener's address (PROBE_PORT)
	logs   *logSink
	stop   context.CancelFunc // what SIGTERM does: cancel run's context
	done   chan error         // run's result
	stderr *bytes.Buffer
}

func startRun(t *testing.T, env map[string]string, opts ...runOption) *runningServer {
	t.Helper()
	full := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "PROBE_PORT": "0", "DRAIN_DELAY": "0s"}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{logs: newLogSink(), stop: cancel, done: make(chan error, 1), stderr: &bytes.Buffer{}}
	go func() {
		s.done <- run(ctx, []string{"hello-web"}, envFrom(full), s.logs, s.stderr, opts...)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(waitLong):
			t.Errorf("run did not return within %s of cancel", waitLong)
		}
	})
	select {
	case err := <-s.done:
		s.done <- err
		t.Fatalf("run returned before listening: %v\nlogs:\n%s", err, s.logs)
	default:
	}
	listening := s.logs.waitFor(t, "listening")
	s.addr, _ = listening["addr"].(string)
	s.probe, _ = listening["probe_addr"].(string)
	if s.addr == "" || s.probe == "" {
		t.Fatalf("listening line has no addr or probe_addr:\n%s", s.logs)
	}
	return s
}

// wait returns run's result, failing the test if it takes too long.
func (s *runningServer) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(waitLong):
		t.Fatalf("run did not return within %s", waitLong)
		return nil
	}
}

// newClient makes a client that opens a fresh connection for each request,
// so that no test result depends on a kept-alive connection.
func newClient() *http.Client {
	return &http.Client{
		Timeout:   waitLong,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestRunServesAndStopsCleanly(t *testing.T) {
	t.Parallel()
	s := startRun(t, map[string]string{"HELLO": "Howdy"})
	c := newClient()
	if code, body := get(t, c, "http://"+s.addr+"/world"); code != 200 || body != "Howdy, world!" {
		t.Errorf("GET /world = %d %q", code, body)
	}
	if code, body := get(t, c, "http://"+s.addr+"/version"); code != 200 || !strings.Contains(body, `"version":"dev"`) {
		t.Errorf("GET /version = %d %q", code, body)
	}
	s.stop()
	if err := s.wait(t); err != nil {
		t.Fatalf("run = %v, want nil after a clean shutdown", err)
	}
	for _, msg := range []string{"request", "draining", "shutting down", "stopped"} {
		s.logs.waitFor(t, msg)
	}
}

func TestRunBadConfigNamesTheVariable(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"PORT": "abc", "READ_HEADER_TIMEOUT": "1m", "DRAIN_DELAY": "forever", "TLS_CERT_FILE": "/only/the/cert",
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"hello-web"}, envFrom(map[string]string{name: value}), &stdout, &stderr)
		if err == nil {
			t.Errorf("%s=%q: run succeeded, want an error", name, value)
			continue
		}
		if !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %q does not name the variable", name, value, err)
		}
		if strings.Contains(stdout.String(), "listening") {
			t.Errorf("%s=%q: server started anyway", name, value)
		}
	}
}

func TestRunVersionFlag(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"hello-web", "-version"}, envFrom(nil), &stdout, &stderr); err != nil {
		t.Fatalf("run -version: %v", err)
	}
	if got := stdout.String(); got != "{\"version\":\"dev\",\"commit\":\"unknown\"}\n" {
		t.Errorf("stdout = %q", got)
	}
	if err := run(context.Background(), []string{"hello-web", "-bogus"}, envFrom(nil), &stdout, &stderr); err == nil {
		t.Error("run -bogus succeeded, want an error")
	}
}

// A slowloris client opens a connection and trickles header bytes without
// ever finishing. ReadHeaderTimeout is an absolute deadline for the whole
// header, so the server must hang up about then, however slowly bytes keep
// coming. READ_TIMEOUT and IDLE_TIMEOUT are set far higher than the test's
// patience so that only ReadHeaderTimeout can end the connection in time.
func TestRunCutsOffSlowlorisClient(t *testing.T) {
	t.Parallel()
	s := startRun(t, map[string]string{
		"READ_HEADER_TIMEOUT": "1s", "READ_TIMEOUT": "1m", "IDLE_TIMEOUT": "1m", "WRITE_TIMEOUT": "1m",
	})
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /world HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// Trickle one byte of a never-ending header every 50 ms.
	stopTrickle := make(chan struct{})
	defer close(stopTrickle)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		if _, err := io.WriteString(conn, "X-Slow: "); err != nil {
			return
		}
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()

	const patience = 5 * time.Second
	_ = conn.SetReadDeadline(time.Now().Add(patience))
	n, err := io.Copy(io.Discard, conn)
	elapsed := time.Since(start)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("connection still open after %s; ReadHeaderTimeout did not cut it off", patience)
	}
	if n != 0 {
		t.Errorf("server sent %d bytes to a client that never finished its headers", n)
	}
	if elapsed < 900*time.Millisecond {
		t.Errorf("cut off after %s, before READ_HEADER_TIMEOUT=1s: something else closed it", elapsed)
	}
	t.Logf("slowloris connection closed after %s", elapsed)
}

func TestRunRejectsOversizedHeadersWith431(t *testing.T) {
	t.Parallel()
	s := startRun(t, nil)
	send := func(headerBytes int) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+s.addr+"/world", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Padding", strings.Repeat("p", headerBytes))
		resp, err := newClient().Do(req)
		if err != nil {
			t.Fatalf("%d-byte header: %v", headerBytes, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// Well within MaxHeaderBytes (16 KiB): served.
	if code := send(8 << 10); code != http.StatusOK {
		t.Errorf("8 KiB header: status %d, want 200", code)
	}
	// Over MaxHeaderBytes plus net/http's 4 KiB slack, yet far below the
	// 1 MiB net/http allows by default: only our limit rejects it.
	if code := send(64 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: status %d, want 431", code)
	}
}

// withSlowRoute adds GET /slow, which blocks until release is closed. The
// service has no slow route of its own, and must not.
func withSlowRoute(started chan<- struct{}, release <-chan struct{}) runOption {
	return func(o *runOptions) {
		o.wrapHandler = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/slow" {
					next.ServeHTTP(w, r)
					return
				}
				close(started)
				select {
				case <-release:
				case <-time.After(waitLong):
				}
				_, _ = io.WriteString(w, "slow done")
			})
		}
	}
}

// The Kubernetes shutdown sequence: on SIGTERM /readyz turns 503 while the
// server still serves; after DRAIN_DELAY the listener closes; a request in
// flight all along still completes; then run returns nil.
func TestRunGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	s := startRun(t, map[string]string{"DRAIN_DELAY": "3s", "SHUTDOWN_TIMEOUT": "20s"}, withSlowRoute(started, release))
	c := newClient()
	base := "http://" + s.addr

	probe := "http://" + s.probe
	for _, url := range []string{base + "/readyz", probe + "/readyz", probe + "/healthz"} {
		if code, _ := get(t, c, url); code != http.StatusOK {
			t.Fatalf("%s before shutdown = %d, want 200", url, code)
		}
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := c.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(body), err}
	}()
	select {
	case <-started:
	case <-time.After(waitLong):
		t.Fatal("slow request never reached the handler")
	}

	s.stop() // SIGTERM
	s.logs.waitFor(t, "draining")
	// During the drain delay the server still accepts connections, and
	// tells the load balancer (public port) and the kubelet (probe port)
	// to go away, while liveness still passes.
	for _, url := range []string{base + "/readyz", probe + "/readyz"} {
		if code, body := get(t, c, url); code != http.StatusServiceUnavailable {
			t.Errorf("%s while draining = %d %q, want 503", url, code, body)
		}
	}
	for _, url := range []string{base + "/healthz", probe + "/healthz"} {
		if code, _ := get(t, c, url); code != http.StatusOK {
			t.Errorf("%s while draining = %d, want 200", url, code)
		}
	}
	if code, body := get(t, c, base+"/world"); code != http.StatusOK || body != "Hello, world!" {
		t.Errorf("/world while draining = %d %q, want it still served", code, body)
	}

	// After the drain delay Shutdown closes the listener...
	s.logs.waitFor(t, "shutting down")
	deadline := time.Now().Add(waitLong)
	for {
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ...but waits for the request in flight, and the kubelet's probes
	// are still answered: not live would get the container killed in the
	// middle of its shutdown, not ready keeps it out of the endpoints.
	if code, _ := get(t, c, probe+"/healthz"); code != http.StatusOK {
		t.Errorf("probe port /healthz during shutdown = %d, want 200", code)
	}
	if code, _ := get(t, c, probe+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("probe port /readyz during shutdown = %d, want 503", code)
	}
	select {
	case err := <-s.done:
		t.Fatalf("run returned (%v) while a request was in flight", err)
	case r := <-slow:
		t.Fatalf("slow request ended before release: %+v", r)
	default:
	}
	close(release)
	select {
	case r := <-slow:
		if r.err != nil || r.code != http.StatusOK || r.body != "slow done" {
			t.Errorf("in-flight request = %d %q %v, want 200 \"slow done\"", r.code, r.body, r.err)
		}
	case <-time.After(waitLong):
		t.Fatal("in-flight request did not complete")
	}
	if err := s.wait(t); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
	s.logs.waitFor(t, "stopped")
	// Once run has returned, nothing listens on the probe port either.
	if conn, err := net.DialTimeout("tcp", s.probe, time.Second); err == nil {
		conn.Close()
		t.Error("probe listener still accepting after run returned")
	}
}

// If a request outlives SHUTDOWN_TIMEOUT, run cuts it off and reports it:
// the process exits non-zero rather than hang past Kubernetes' grace period.
func TestRunShutdownTimeoutIsAnError(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := startRun(t, map[string]string{"SHUTDOWN_TIMEOUT": "1s"}, withSlowRoute(started, release))
	go func() {
		resp, err := newClient().Get("http://" + s.addr + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(waitLong):
		t.Fatal("slow request never reached the handler")
	}
	s.stop()
	err := s.wait(t)
	if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") {
		t.Errorf("run = %v, want an error naming SHUTDOWN_TIMEOUT", err)
	}
}

// A connection that has sent nothing when SIGTERM comes (a client's spare or
// preconnected connection, a slowloris) holds up the shutdown until
// READ_HEADER_TIMEOUT cuts it off: net/http counts a connection that has not
// sent its first request as in flight (for up to 5 s: closeIdleConns in
// net/http/server.go, golang/go#22682). With SHUTDOWN_TIMEOUT above
// READ_HEADER_TIMEOUT, as deployed (20 s and the default 5 s), the shutdown
// is clean; below it, the connection is cut off at SHUTDOWN_TIMEOUT and run
// reports a timeout (README.md, SHUTDOWN_TIMEOUT). The second case shows the
// connection is indeed waited for, so that the first proves something.
func TestRunShutdownWaitsForAConnectionThatSentNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		readHeaderTimeout, shutdownTimeout string
		clean                              bool
	}{
		{"1s", "5s", true},
		{"5s", "1s", false},
	} {
		t.Run("READ_HEADER_TIMEOUT="+tc.readHeaderTimeout+",SHUTDOWN_TIMEOUT="+tc.shutdownTimeout, func(t *testing.T) {
			t.Parallel()
			s := startRun(t, map[string]string{"READ_HEADER_TIMEOUT": tc.readHeaderTimeout, "SHUTDOWN_TIMEOUT": tc.shutdownTimeout})
			silent, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			// The server accepts in order: once a later connection is
			// answered, the silent one has been accepted too.
			if code, _ := get(t, newClient(), "http://"+s.addr+"/world"); code != http.StatusOK {
				t.Fatalf("GET /world = %d", code)
			}
			s.stop()
			err = s.wait(t)
			switch {
			case tc.clean && err != nil:
				t.Errorf("run = %v, want nil: READ_HEADER_TIMEOUT should have cut the silent connection off first", err)
			case !tc.clean && (err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT")):
				t.Errorf("run = %v, want a SHUTDOWN_TIMEOUT error: the shutdown did not wait for the silent connection", err)
			}
		})
	}
}

func TestRunServesTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := writeTestCertificate(t)
	s := startRun(t, map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile})
	if tlsOn, _ := s.logs.waitFor(t, "listening")["tls"].(bool); !tlsOn {
		t.Error(`listening line does not say "tls":true`)
	}

	client := &http.Client{Timeout: waitLong, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get("https://" + s.addr + "/world")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Hello, world!" {
		t.Errorf("GET over TLS = %d %q", resp.StatusCode, body)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS state = %+v, want TLS 1.2 or later", resp.TLS)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol = %s, want HTTP/2 offered over TLS", resp.Proto)
	}

	// A client that offers only TLS 1.1 or older is refused.
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("TLS 1.1 handshake succeeded, want it refused")
	}

	// Plain HTTP to the TLS port gets a 400, not a greeting.
	code, _ := get(t, newClient(), "http://"+s.addr+"/world")
	if code != http.StatusBadRequest {
		t.Errorf("plain HTTP to TLS port = %d, want 400", code)
	}
}

func TestRunUnreadableCertificateNamesTheVariables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []map[string]string{
		{"TLS_CERT_FILE": bad, "TLS_KEY_FILE": bad},
		{"TLS_CERT_FILE": filepath.Join(dir, "missing.crt"), "TLS_KEY_FILE": filepath.Join(dir, "missing.key")},
	} {
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"hello-web"}, envFrom(env), &stdout, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "config: TLS_CERT_FILE/TLS_KEY_FILE") {
			t.Errorf("run with %v = %v, want an error naming TLS_CERT_FILE/TLS_KEY_FILE", env, err)
		}
	}
}

// writeTestCertificate makes a self-signed ECDSA certificate for 127.0.0.1
// and returns the PEM files and a pool that trusts it.
func writeTestCertificate(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hello-web test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePEM := func(path, blockType string, der []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePEM(certFile, "CERTIFICATE", der)
	writePEM(keyFile, "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
