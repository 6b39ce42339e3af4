// Command load benchmarks hello-web against the seed's naive server.
//
// For each run it starts each server binary on a free 127.0.0.1 port, warms
// it up, then sends GET /world from a fixed number of keep-alive workers for
// a fixed time, and reads the server's peak RSS (VmHWM) from /proc. The
// servers alternate run by run so that drift on a busy machine hits both.
// It prints a Markdown table of the medians over the runs and the ratio of
// hello-web to naive, and writes the same as JSON to -json if given.
//
// Traffic goes only to 127.0.0.1, and every run is bounded in time and in
// request count. app/bench/run.sh builds the binaries and calls this.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	requestPath  = "/world"
	wantBody     = "Hello, world!"
	maxPerRun    = 20_000_000 // requests; a bound far above what 2 cores reach in a run
	startTimeout = 10 * time.Second
)

type options struct {
	appBin, naiveBin string
	runs             int
	duration, warmup time.Duration
	concurrency      int
	jsonPath         string
}

// server is one binary under test and how to start it on a port.
type server struct {
	name string
	cmd  func(port int) *exec.Cmd
}

// runResult is one measured run of one server.
type runResult struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	RPS        float64 `json:"rps"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// summary is the median of each metric over the runs.
type summary struct {
	RPS        float64     `json:"rps"`
	P50Ms      float64     `json:"p50_ms"`
	P99Ms      float64     `json:"p99_ms"`
	PeakRSSMiB float64     `json:"peak_rss_mib"`
	Errors     int64       `json:"errors"`
	Runs       []runResult `json:"runs"`
}

type report struct {
	Date        string             `json:"date"`
	GoVersion   string             `json:"go_version"`
	CPUs        int                `json:"cpus"`
	Path        string             `json:"path"`
	Concurrency int                `json:"concurrency"`
	DurationS   float64            `json:"duration_s"`
	Runs        int                `json:"runs"`
	Servers     map[string]summary `json:"servers"`
	// Ratio is hello-web over naive, metric by metric: the median of the
	// per-run ratios. Each run measures the two servers back to back, so a
	// pair shares the machine's load at that moment; other work on the
	// machine shifts both sides of a ratio alike.
	Ratio map[string]float64 `json:"ratio_hello_web_to_naive"`
	// LoadAvg is /proc/loadavg before and after: other work on the machine
	// skews absolute numbers.
	LoadAvgBefore string `json:"loadavg_before"`
	LoadAvgAfter  string `json:"loadavg_after"`
}

func main() {
	var o options
	flag.StringVar(&o.appBin, "app", "", "hello-web binary")
	flag.StringVar(&o.naiveBin, "naive", "", "naive (seed) server binary")
	flag.IntVar(&o.runs, "runs", 3, "runs per server; the median is reported")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured load per run")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured load before each run")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent keep-alive connections")
	flag.StringVar(&o.jsonPath, "json", os.Getenv("BENCH_APP_JSON"), "also write the results as JSON here (default $BENCH_APP_JSON)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.appBin == "" || o.naiveBin == "" {
		return errors.New("-app and -naive are required")
	}
	if o.runs < 1 || o.concurrency < 1 || o.concurrency > 1024 || o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("need runs >= 1, concurrency 1-1024, duration in (0, 5m]")
	}
	servers := []server{
		{"hello-web", func(port int) *exec.Cmd {
			cmd := exec.Command(o.appBin)
			cmd.Env = []string{"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "HELLO=Hello", "DRAIN_DELAY=0s"}
			return cmd
		}},
		{"naive", func(port int) *exec.Cmd {
			cmd := exec.Command(o.naiveBin, "127.0.0.1:"+strconv.Itoa(port))
			cmd.Env = []string{"HELLO=Hello"}
			return cmd
		}},
	}
	loadBefore := loadAvg()
	results := map[string][]runResult{}
	for i := range o.runs {
		for _, s := range servers {
			r, err := measure(s, o)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", s.name, i+1, err)
			}
			fmt.Fprintf(os.Stderr, "run %d %-9s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  peak RSS %5.1f MiB  errors %d\n",
				i+1, s.name, r.RPS, r.P50Ms, r.P99Ms, r.PeakRSSMiB, r.Errors)
			results[s.name] = append(results[s.name], r)
		}
	}

	rep := report{
		Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Path: requestPath, Concurrency: o.concurrency, DurationS: o.duration.Seconds(), Runs: o.runs,
		Servers: map[string]summary{}, LoadAvgBefore: loadBefore, LoadAvgAfter: loadAvg(),
	}
	for name, rs := range results {
		rep.Servers[name] = summarize(rs)
	}
	a, n := rep.Servers["hello-web"], rep.Servers["naive"]
	pairedRatio := func(f func(runResult) float64) float64 {
		rs := make([]float64, len(a.Runs))
		for i := range a.Runs {
			rs[i] = ratio(f(a.Runs[i]), f(n.Runs[i]))
		}
		return median(rs)
	}
	rep.Ratio = map[string]float64{
		"rps":      pairedRatio(func(r runResult) float64 { return r.RPS }),
		"p50":      pairedRatio(func(r runResult) float64 { return r.P50Ms }),
		"p99":      pairedRatio(func(r runResult) float64 { return r.P99Ms }),
		"peak_rss": pairedRatio(func(r runResult) float64 { return r.PeakRSSMiB }),
	}
	fmt.Print(markdown(rep))

	if o.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", o.jsonPath)
	}
	if a.Errors+n.Errors > 0 {
		return fmt.Errorf("%d failed requests: results are not comparable", a.Errors+n.Errors)
	}
	return nil
}

// measure starts one server, loads it and stops it.
func measure(s server, o options) (runResult, error) {
	port, err := freePort()
	if err != nil {
		return runResult{}, err
	}
	target := fmt.Sprintf("http://127.0.0.1:%d%s", port, requestPath)
	cmd := s.cmd(port)
	cmd.Stdout = io.Discard // hello-web logs every request: that cost is part of it
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return runResult{}, err
	}
	defer stop(cmd)

	client := newClient(o.concurrency)
	defer client.CloseIdleConnections()
	if err := waitReady(client, target); err != nil {
		return runResult{}, err
	}
	if o.warmup > 0 {
		if _, err := load(client, target, o.concurrency, o.warmup); err != nil {
			return runResult{}, err
		}
	}
	r, err := load(client, target, o.concurrency, o.duration)
	if err != nil {
		return runResult{}, err
	}
	r.PeakRSSMiB, err = peakRSSMiB(cmd.Process.Pid)
	return r, err
}

func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			DisableCompression:  true,
			// Never leave loopback, whatever the environment says.
			Proxy: nil,
		},
	}
}

func waitReady(c *http.Client, target string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := c.Get(target)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", target, startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load sends GET target from concurrency workers for d, and returns the
// throughput and latency percentiles of the successful requests.
func load(c *http.Client, target string, concurrency int, d time.Duration) (runResult, error) {
	u, err := url.Parse(target)
	if err != nil {
		return runResult{}, err
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return runResult{}, fmt.Errorf("refusing to load %s: loopback only", u.Host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int64
		wg        sync.WaitGroup
		budget    = int64(maxPerRun / concurrency)
	)
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			local := make([]time.Duration, 0, 1<<14)
			var localErrs int64
			for n := int64(0); n < budget && ctx.Err() == nil; n++ {
				t0 := time.Now()
				ok := getOnce(c, target)
				elapsed := time.Since(t0)
				if ctx.Err() != nil {
					break // the request straddled the end: not counted
				}
				if ok {
					local = append(local, elapsed)
				} else {
					localErrs++
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += localErrs
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := min(time.Since(start), d)
	if len(latencies) == 0 {
		return runResult{}, fmt.Errorf("no successful request to %s (%d errors)", target, errs)
	}
	slices.Sort(latencies)
	return runResult{
		Requests: int64(len(latencies)),
		Errors:   errs,
		RPS:      float64(len(latencies)) / elapsed.Seconds(),
		P50Ms:    ms(percentile(latencies, 0.50)),
		P99Ms:    ms(percentile(latencies, 0.99)),
	}, nil
}

func getOnce(c *http.Client, target string) bool {
	resp, err := c.Get(target)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK && string(body) == wantBody
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// peakRSSMiB reads VmHWM, the process's peak resident set size.
func peakRSSMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: %q: %w", line, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc status")
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func summarize(rs []runResult) summary {
	med := func(f func(runResult) float64) float64 {
		vs := make([]float64, len(rs))
		for i, r := range rs {
			vs[i] = f(r)
		}
		return median(vs)
	}
	s := summary{
		RPS:        med(func(r runResult) float64 { return r.RPS }),
		P50Ms:      med(func(r runResult) float64 { return r.P50Ms }),
		P99Ms:      med(func(r runResult) float64 { return r.P99Ms }),
		PeakRSSMiB: med(func(r runResult) float64 { return r.PeakRSSMiB }),
		Runs:       rs,
	}
	for _, r := range rs {
		s.Errors += r.Errors
	}
	return s
}

func median(vs []float64) float64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func markdown(r report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nGET %s on 127.0.0.1, %d connections, %d x %s per server (median), %s, %d CPUs\n\n",
		r.Path, r.Concurrency, r.Runs, time.Duration(r.DurationS*float64(time.Second)), r.GoVersion, r.CPUs)
	b.WriteString("| server | req/s | p50 (ms) | p99 (ms) | peak RSS (MiB) | errors |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, name := range []string{"hello-web", "naive"} {
		s := r.Servers[name]
		label := name
		if name == "naive" {
			label = "naive (seed)"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.3f | %.3f | %.1f | %d |\n", label, s.RPS, s.P50Ms, s.P99Ms, s.PeakRSSMiB, s.Errors)
	}
	fmt.Fprintf(&b, "| ratio hello-web / naive | %.2f | %.2f | %.2f | %.2f | |\n",
		r.Ratio["rps"], r.Ratio["p50"], r.Ratio["p99"], r.Ratio["peak_rss"])
	fmt.Fprintf(&b, "\nRatios are medians of per-run ratios (each run measures both servers back to back).\n"+
		"Load average before / after: %s / %s. Load generator and server share the CPUs.\n", r.LoadAvgBefore, r.LoadAvgAfter)
	return b.String()
}
