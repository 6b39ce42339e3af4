package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startSlowHeaderAttack opens n connections to addr, each sending a request
// line and the start of a header that never ends, and reopens each one as
// soon as the server closes it (READ_HEADER_TIMEOUT): the attack of issue 27
// that made 26 consecutive liveness probes fail. It returns once every
// connection is established (held by the server or waiting in its accept
// queue), and stops when the test ends.
func startSlowHeaderAttack(t *testing.T, addr string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		open      = map[net.Conn]struct{}{}
		connected atomic.Int64
	)
	for range n {
		wg.Go(func() {
			first := true
			for ctx.Err() == nil {
				c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				mu.Lock()
				if ctx.Err() != nil {
					mu.Unlock()
					c.Close()
					return
				}
				open[c] = struct{}{}
				mu.Unlock()
				_, _ = io.WriteString(c, "GET /world HTTP/1.1\r\nHost: x\r\nX-Never-Ends: ")
				if first {
					connected.Add(1)
					first = false
				}
				_, _ = io.Copy(io.Discard, c) // until the server hangs up
				mu.Lock()
				delete(open, c)
				mu.Unlock()
				c.Close()
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	deadline := time.Now().Add(waitLong)
	for connected.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d attacking connections established within %s", connected.Load(), n, waitLong)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kubeletProbe does what the kubelet's httpGet probe does: a new connection
// per probe, and a failure if no 2xx/3xx answer arrives within the probe's
// timeoutSeconds (2 s in lib/manifests/workload.ts).
func kubeletProbe(url string) (int, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Connections that never finish their headers, reopened as the server
// closes them, hold every MAX_CONNECTIONS slot and keep the accept queue
// full: a probe on the public port waits behind them past the kubelet's
// timeout, and the kubelet restarts a healthy pod (issue 27). On the probe
// port, which the cap and the public listener do not touch, the kubelet's
// liveness and readiness probes are answered all through the attack.
//
// The same rounds also probe the public port, where the probes were before:
// those must fail, or the attack did not happen and the test proves nothing.
func TestProbesAnswerWhileSlowHeaderClientsHoldEveryConnection(t *testing.T) {
	t.Parallel()
	const maxConnections, attackers, rounds = 16, 200, 5
	s := startRun(t, map[string]string{
		"MAX_CONNECTIONS":     strconv.Itoa(maxConnections),
		"READ_HEADER_TIMEOUT": "1s",
	})
	probeAddr, _ := s.logs.waitFor(t, "listening")["probe_addr"].(string)

	startSlowHeaderAttack(t, s.addr, attackers)

	// The kubelet's liveness probe fails the container after failureThreshold
	// (3) failures in a row: that many must fail on the public port.
	const livenessFailureThreshold = 3
	publicFailedInARow, longestPublicRun := 0, 0
	var probePortFailures []string
	for round := range rounds {
		next := time.Now().Add(time.Second)
		var wg sync.WaitGroup
		var publicErr error
		wg.Go(func() {
			code, err := kubeletProbe("http://" + s.addr + "/healthz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d", code)
			}
			publicErr = err
		})
		results := make([]string, 2)
		for i, path := range []string{"/healthz", "/readyz"} {
			wg.Go(func() {
				if probeAddr == "" {
					results[i] = path + ": no probe port (no probe_addr in the listening line)"
					return
				}
				code, err := kubeletProbe("http://" + probeAddr + path)
				switch {
				case err != nil:
					results[i] = fmt.Sprintf("%s: %v", path, err)
				case code != http.StatusOK:
					results[i] = fmt.Sprintf("%s: status %d", path, code)
				}
			})
		}
		wg.Wait()
		for _, r := range results {
			if r != "" {
				probePortFailures = append(probePortFailures, fmt.Sprintf("round %d: %s", round+1, r))
			}
		}
		if publicErr != nil {
			publicFailedInARow++
			longestPublicRun = max(longestPublicRun, publicFailedInARow)
		} else {
			publicFailedInARow = 0
		}
		t.Logf("round %d: public /healthz: %v; probe port: %q", round+1, publicErr, results)
		time.Sleep(time.Until(next))
	}

	if longestPublicRun < livenessFailureThreshold {
		t.Fatalf("only %d consecutive probe failures on the public port under attack, want at least %d: the attack did not starve it, so this test proves nothing", longestPublicRun, livenessFailureThreshold)
	}
	if len(probePortFailures) > 0 {
		t.Errorf("probes failed under attack (the kubelet would restart a healthy pod):\n%s", strings.Join(probePortFailures, "\n"))
	}
}
