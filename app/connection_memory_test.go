package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// connectionMemory is testdata/connection-memory.json: what an idle
// connection costs the service, measured by TestIdleConnectionMemory, and
// the cap derived from it. lib/manifests/workload.ts sizes the pod's memory
// limit from the same file (test/manifests/memory-limit.test.ts).
type connectionMemory struct {
	IdleConnectionsMeasured int   `json:"idleConnectionsMeasured"`
	BaselineRSSBytes        int64 `json:"baselineRssBytes"`
	BytesPerIdleConnection  int64 `json:"bytesPerIdleConnection"`
	DefaultMaxConnections   int   `json:"defaultMaxConnections"`
	ProbeMaxConnections     int   `json:"probeMaxConnections"`
}

func readConnectionMemory(t *testing.T) connectionMemory {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "connection-memory.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m connectionMemory
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("testdata/connection-memory.json: %v", err)
	}
	return m
}

func TestDefaultMaxConnectionsIsTheRecordedOne(t *testing.T) {
	m := readConnectionMemory(t)
	if m.DefaultMaxConnections != defaultMaxConnections {
		t.Errorf("defaultMaxConnections = %d, testdata/connection-memory.json says %d: change both, and re-check the pod's memory limit", defaultMaxConnections, m.DefaultMaxConnections)
	}
	if m.ProbeMaxConnections != probeMaxConnections {
		t.Errorf("probeMaxConnections = %d, testdata/connection-memory.json says %d: change both, and re-check the pod's memory limit", probeMaxConnections, m.ProbeMaxConnections)
	}
}

// TestIdleConnectionMemory measures what an idle keep-alive connection
// costs the real binary (built as the Dockerfile builds it, without the race
// detector), on loopback only, with a bounded number of connections and a
// deadline on every step:
//
//	go test -run TestIdleConnectionMemory -v .
//
// It fails when the cost grows by more than a quarter over the recorded
// value, because the pod's memory limit was sized from that value.
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and opens many connections; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status")
	}
	recorded := readConnectionMemory(t)
	n := recorded.IdleConnectionsMeasured

	needOpenFiles(t, n)
	addr, pid := startServiceBinary(t, n+100)

	// Warm up: the first requests allocate what every request shares.
	for i := 0; i < 50; i++ {
		c := openIdleConnection(t, addr)
		c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	before := rssBytes(t, pid)

	deadline := time.Now().Add(30 * time.Second)
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for len(conns) < n {
		if time.Now().After(deadline) {
			t.Fatalf("opened only %d of %d connections in 30s", len(conns), n)
		}
		conns = append(conns, openIdleConnection(t, addr))
	}
	time.Sleep(200 * time.Millisecond)
	after := rssBytes(t, pid)
	per := (after - before) / int64(n)

	t.Logf("baseline RSS %d KiB; with %d idle connections %d KiB; %d bytes per idle connection (recorded: %d)", before>>10, n, after>>10, per, recorded.BytesPerIdleConnection)
	if limit := recorded.BytesPerIdleConnection * 5 / 4; per > limit {
		t.Errorf("an idle connection costs %d bytes, more than the recorded %d + 25%%: re-measure, update testdata/connection-memory.json and the pod's memory limit", per, recorded.BytesPerIdleConnection)
	}
	if limit := recorded.BaselineRSSBytes * 5 / 4; before > limit {
		t.Errorf("baseline RSS is %d bytes, more than the recorded %d + 25%%: re-measure and update testdata/connection-memory.json", before, recorded.BaselineRSSBytes)
	}
}

// However many clients connect, the process holds at most MAX_CONNECTIONS
// of them: the rest wait in the kernel's accept queue at no cost to the
// process, idle ones are shed to make room, and every waiting client is
// served. Peak memory (VmHWM) grows by what the cap's connections cost, not
// by the number of clients.
func TestConnectionCapBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and opens many connections; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status")
	}
	recorded := readConnectionMemory(t)
	const limit, extra = 200, 800
	needOpenFiles(t, limit+extra)
	addr, pid := startServiceBinary(t, limit)
	for i := 0; i < 50; i++ {
		openIdleConnection(t, addr).Close()
	}
	time.Sleep(200 * time.Millisecond)
	before := procStatusBytes(t, pid, "VmHWM")

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < limit; i++ {
		conns = append(conns, openIdleConnection(t, addr))
	}
	waiting := make([]net.Conn, 0, extra)
	for len(waiting) < extra {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			break // the accept queue is full: the kernel refused it, also fine
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, c)
	}
	served := 0
	for _, c := range waiting {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			served++
		}
	}
	grown := procStatusBytes(t, pid, "VmHWM") - before
	t.Logf("%d idle + %d more clients with MAX_CONNECTIONS=%d: %d served, peak RSS grew %d KiB", limit, len(waiting), limit, served, grown>>10)
	if served != len(waiting) {
		t.Errorf("%d of %d waiting clients were served", served, len(waiting))
	}
	// Twice the cap's cost: the collector may let garbage from shed
	// connections reach the live heap's size before it runs (GOGC=100),
	// the same margin the pod's memory limit has.
	// Plus 4 MiB for what the runtime itself grows by (goroutine and
	// connection tables), which matters at this small cap.
	if bound := 2*int64(limit)*recorded.BytesPerIdleConnection + 4<<20; grown > bound {
		t.Errorf("peak RSS grew %d bytes with MAX_CONNECTIONS=%d and %d clients, more than %d: connections past the cap cost memory", grown, limit, limit+len(waiting), bound)
	}
}

// needOpenFiles fails, rather than skips, when this process may not open
// n connections (Go raises the soft limit to the hard one at start).
func needOpenFiles(t *testing.T, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if want := uint64(n + 100); lim.Cur < want {
		t.Fatalf("needs %d open files, the limit is %d: raise it (ulimit -n %d)", want, lim.Cur, want)
	}
}

// startServiceBinary builds the service as the Dockerfile does (no race
// detector, which would distort memory) and starts it on loopback.
func startServiceBinary(t *testing.T, maxConnections int) (addr string, pid int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hello-web")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := exec.Command(bin)
	srv.Env = []string{"HOST=127.0.0.1", "PORT=0", "PROBE_PORT=0", "DRAIN_DELAY=0s", "MAX_CONNECTIONS=" + strconv.Itoa(maxConnections)}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	addr = listeningAddr(t, stdout)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return addr, srv.Process.Pid
}

// openIdleConnection makes one keep-alive request on a new connection and
// leaves the connection open and idle, as a browser or a pooling client does.
func openIdleConnection(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return c
}

func listeningAddr(t *testing.T, stdout io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				found <- line.Addr
				return
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok || addr == "" {
			t.Fatal("the service exited without a listening line")
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("no listening line within 10s")
		return ""
	}
}

func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	return procStatusBytes(t, pid, "VmRSS")
}

// procStatusBytes reads a "<field>: <n> kB" line of /proc/<pid>/status.
func procStatusBytes(t *testing.T, pid int, field string) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/<pid>/status", field)
	return 0
}
