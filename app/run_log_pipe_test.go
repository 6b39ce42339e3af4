package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of run.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pipeRun is run() with stdout a real pipe, as in a container, whose
// reader the test controls: it reads up to the listening line and then
// stops, as a stalled log collector does.
type pipeRun struct {
	addr, probeAddr string
	stdout          *bufio.Reader // the read end, positioned after the listening line
	readEnd         *os.File
	stderr          *syncBuffer
	stop            context.CancelFunc // what SIGTERM does
	done            chan error
	pipeBytes       int
}

// Linux fcntl commands (include/uapi/linux/fcntl.h); the syscall package
// does not name them.
const (
	fSetPipeSize = 1031 // F_SETPIPE_SZ
	fGetPipeSize = 1032 // F_GETPIPE_SZ
)

func startRunOnPipe(t *testing.T, env map[string]string) *pipeRun {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("sizes the pipe with Linux's F_SETPIPE_SZ")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeRun{readEnd: r, stderr: &syncBuffer{}, done: make(chan error, 1)}
	// The smallest pipe the kernel allows (a page), so that few requests
	// fill it; read back, since the kernel rounds up.
	ctl, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = ctl.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, 4096)
		n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSize, 0)
		if errno == 0 {
			p.pipeBytes = int(n)
		}
	})
	if p.pipeBytes == 0 {
		t.Fatal("F_GETPIPE_SZ failed")
	}

	// SHUTDOWN_TIMEOUT: at SIGTERM no request is in flight (fillStdout's
	// client has hung up), so the shutdown waits only for the server to see
	// those connections closed, a goroutine's wake-up. 3 s is far above
	// that on a loaded machine and still an error for a request stuck on
	// the log queue, which would never end.
	full := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "PROBE_PORT": "0", "DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "3s"}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go func() {
		p.done <- run(ctx, []string{progName(nil)}, envFrom(full), w, p.stderr)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		// Whatever the test did, let run finish: read everything.
		go func() { _, _ = io.Copy(io.Discard, r) }()
		select {
		case <-p.done:
		case <-time.After(waitLong):
			t.Errorf("run did not return within %s of cancel, even with stdout read again", waitLong)
		}
		r.Close()
	})

	p.stdout = bufio.NewReader(r)
	_ = r.SetReadDeadline(time.Now().Add(waitLong))
	for {
		line, err := p.stdout.ReadBytes('\n')
		if err != nil {
			t.Fatalf("no listening line on stdout: %v; stderr: %s", err, p.stderr)
		}
		var e struct {
			Msg       string `json:"msg"`
			Addr      string `json:"addr"`
			ProbeAddr string `json:"probe_addr"`
		}
		if json.Unmarshal(line, &e) == nil && e.Msg == "listening" {
			p.addr, p.probeAddr = e.Addr, e.ProbeAddr
			break
		}
	}
	_ = r.SetReadDeadline(time.Time{})
	return p
}

// hangUpDialer dials the test client's connections and closes every one of
// them when the client is done (hangUp), those dialed afterwards included.
//
// The shutdown then waits only for the service's own work. Left open, a
// connection the client dialed and never used holds up the shutdown: when
// another connection frees up before a dial completes, net/http's Transport
// parks the new one in its idle pool without sending anything on it, and
// http.Server.Shutdown counts a connection that has not sent its first
// request as in flight until READ_HEADER_TIMEOUT cuts it off or it is 5 s
// old (closeIdleConns in net/http/server.go, golang/go#22682). Under load
// such a spare connection was open at SIGTERM in about one run in seven, and
// run reported "in-flight requests still running" with no request running.
type hangUpDialer struct {
	mu     sync.Mutex
	conns  []net.Conn
	hungUp bool
}

func (d *hangUpDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hungUp {
		// A dial for a request already answered on another connection.
		c.Close()
		return nil, errors.New("the test's client has hung up")
	}
	d.conns = append(d.conns, c)
	return c, nil
}

func (d *hangUpDialer) hangUp() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hungUp = true
	for _, c := range d.conns {
		_ = c.Close() // most are closed already: the Transport keeps two per host
	}
	d.conns = nil
}

// fillStdout sends requests, each of which logs a line, until far more has
// been logged than the pipe and the log writer's queue hold: the pipe's
// buffer, one batch stuck in its write and a full queue. Every request must
// be answered: logging must not hold up serving. A failure is reported and
// the test goes on, so that what follows (probes, SIGTERM) is seen too.
// The client keeps its connections alive while it sends, and hangs up all
// of them before returning (hangUpDialer).
func (p *pipeRun) fillStdout(t *testing.T) {
	t.Helper()
	// A 64-character name makes an access log line of more than 150 bytes.
	path := "/" + strings.Repeat("n", maxGreetingRunes)
	const minLineBytes = 150
	requests := (p.pipeBytes+2*maxPendingLogBytes)/minLineBytes + 500
	dialer := &hangUpDialer{}
	defer dialer.hangUp()
	client := &http.Client{Timeout: waitLong, Transport: &http.Transport{DialContext: dialer.DialContext}}
	work := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range work {
				resp, err := client.Get("http://" + p.addr + path)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- errors.New(resp.Status)
					return
				}
			}
		})
	}
	sent := 0
	func() {
		defer close(work)
		for sent < requests {
			select {
			case err := <-errs:
				t.Errorf("request %d of %d while stdout was not read: %v (logging held up serving)", sent, requests, err)
				return
			case work <- struct{}{}:
				sent++
			}
		}
	}()
	wg.Wait()
	// The connection the Transport parks now and then, every time: the
	// hang-up is then needed on every run, not on one in several.
	if _, err := dialer.DialContext(context.Background(), "tcp", p.addr); err != nil {
		t.Errorf("dialing a connection left unused: %v", err)
	}
	close(errs)
	if err, ok := <-errs; ok {
		t.Errorf("a request while stdout was not read: %v (and %d more)", err, len(errs))
	}
	t.Logf("%d of %d requests sent with stdout unread (pipe %d bytes, log queue %d bytes)", sent, requests, p.pipeBytes, maxPendingLogBytes)
}

// probesAnswer checks the kubelet's probes on the probe port and /healthz on
// the public port, each within the kubelet's probe timeout.
func (p *pipeRun) probesAnswer(t *testing.T) {
	t.Helper()
	urls := []string{"http://" + p.addr + "/healthz"}
	if p.probeAddr != "" {
		urls = append(urls, "http://"+p.probeAddr+"/healthz", "http://"+p.probeAddr+"/readyz")
	}
	for _, url := range urls {
		if code, err := kubeletProbe(url); err != nil || code != http.StatusOK {
			t.Errorf("GET %s with stdout not read: %d %v", url, code, err)
		}
	}
}

// waitReturned waits for run to return after SIGTERM; a service that cannot
// write its logs must still stop within Kubernetes' grace period.
func (p *pipeRun) waitReturned(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		t.Fatalf("run did not return within %s of SIGTERM while stdout was not read", within)
		return nil
	}
}

// A log collector that stops reading (stdout a pipe nobody reads) must not
// stop the service: requests and probes are answered, lines that do not fit
// are dropped and counted, and once the pipe is read again a line says how
// many were lost; the stopped line says how many in all.
func TestRunKeepsServingWhenStdoutIsNotRead(t *testing.T) {
	t.Parallel()
	p := startRunOnPipe(t, nil)
	p.fillStdout(t)
	p.probesAnswer(t)
	if t.Failed() {
		t.FailNow()
	}

	// The log collector reads again.
	lines := make(chan map[string]any, 1024)
	go func() {
		defer close(lines)
		for {
			line, err := p.stdout.ReadBytes('\n')
			if err != nil {
				return
			}
			var e map[string]any
			if json.Unmarshal(line, &e) != nil {
				e = map[string]any{"msg": "UNPARSEABLE", "line": string(line)}
			}
			lines <- e
		}
	}()
	var reported float64
	deadline := time.After(waitLong)
	for reported == 0 {
		select {
		case e, ok := <-lines:
			if !ok {
				t.Fatal("stdout ended without a line saying how many log lines were dropped")
			}
			if e["msg"] == "UNPARSEABLE" {
				t.Fatalf("a torn or garbled log line: %q", e["line"])
			}
			if e["msg"] == "log lines dropped" {
				reported, _ = e["dropped"].(float64)
				if reported <= 0 {
					t.Fatalf("log lines dropped line without a positive count: %v", e)
				}
			}
		case <-deadline:
			t.Fatalf("no \"log lines dropped\" line within %s of reading stdout again", waitLong)
		}
	}
	t.Logf("%v lines reported dropped", reported)

	p.stop()
	if err := p.waitReturned(t, waitLong); err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	var stopped map[string]any
	for e := range lines {
		if e["msg"] == "stopped" {
			stopped = e
		}
	}
	if stopped == nil {
		t.Fatal("no stopped line")
	}
	if total, _ := stopped["log_lines_dropped"].(float64); total < reported {
		t.Errorf("stopped line says %v log lines dropped, fewer than the %v reported before", stopped["log_lines_dropped"], reported)
	}
}

// SIGTERM while stdout is still not read: the drain, the shutdown and the
// process's end must not wait for a write that cannot happen, and stderr
// says how many lines were lost.
func TestRunStopsWhenStdoutIsNotRead(t *testing.T) {
	t.Parallel()
	p := startRunOnPipe(t, map[string]string{"DRAIN_DELAY": "1s"})
	p.fillStdout(t)
	p.probesAnswer(t)

	start := time.Now()
	p.stop()
	// DRAIN_DELAY is 1 s, SHUTDOWN_TIMEOUT at most 3 s; the log writer gets
	// at most logCloseTimeout more, and stderr 1 s. waitLong is above that
	// sum, far below "never".
	if err := p.waitReturned(t, waitLong); err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	t.Logf("run returned %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if msg := p.stderr.String(); !strings.Contains(msg, "log lines dropped") {
		t.Errorf("stderr does not say how many log lines were dropped: %q", msg)
	}
}
