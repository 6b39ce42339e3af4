package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// When idle keep-alive clients hold every MAX_CONNECTIONS slot, a new
// client (or the kubelet's probe) is still served within moments: the idle
// connections are closed to make room, and keep-alive resumes afterwards.
// With the cap alone it would wait until IDLE_TIMEOUT.
func TestRunShedsIdleConnectionsAtTheCap(t *testing.T) {
	t.Parallel()
	const max = 16
	s := startRun(t, map[string]string{"MAX_CONNECTIONS": strconv.Itoa(max), "IDLE_TIMEOUT": "1m"})
	idle := make([]net.Conn, 0, max)
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	for len(idle) < max {
		idle = append(idle, openIdleConnection(t, s.addr))
	}

	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get("http://" + s.addr + "/healthz")
	if err != nil {
		t.Fatalf("a new client was not served while idle connections held the cap: %v", err)
	}
	resp.Body.Close()
	t.Logf("served after %s", time.Since(start))

	// Idle connections were closed by the server to make that room: all
	// that were idle at that moment (one still finishing its request may
	// stay, once the count is a tenth below the cap).
	shed := 0
	for _, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); n == 0 && err == io.EOF {
			shed++
		}
	}
	if low := max - (max+9)/10; shed < max-low {
		t.Errorf("%d idle connections closed by the server, want at least %d", shed, max-low)
	}
	t.Logf("%d of %d idle connections shed", shed, max)

	// Below the cap again, connections are kept alive again.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !resp.Close {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("keep-alive still off 2s after the idle connections were shed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
