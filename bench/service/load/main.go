// Command load benchmarks hello-web against the seed's naive server.
//
// Two measures per server and run, servers alternating run by run so that
// drift on a busy machine hits both:
//   - throughput: wrk (a standard closed-loop generator: -t1 -c<connections>),
//     requests per second at saturation; and the same with vegeta's library
//     as a closed loop (<connections> workers, no rate limit), successful
//     requests per second;
//   - latency: an open-model, constant-rate attack with vegeta's library
//     (github.com/tsenart/vegeta): requests are sent on schedule whether or not
//     earlier ones have answered, so queueing shows in the p99 instead of being
//     hidden by a closed loop that waits (coordinated omission). The rate is
//     the same for both servers: a fraction of the naive server's throughput
//     with vegeta, calibrated once at the start. (A fraction of wrk's was
//     more than vegeta itself can send on a 2-core machine: both servers
//     then queued for seconds and the p99 measured the generator.)
//
// After each run it reads the server's peak RSS (VmHWM) from /proc. It prints a
// Markdown table of the medians over the runs and the ratio of hello-web to
// naive, and writes the same as JSON to -json if given.
//
// Traffic goes only to 127.0.0.1, and every run is bounded in time.
// bench/service/run.sh builds the binaries and calls this.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

const (
	requestPath  = "/world"
	wantBody     = "Hello, world!"
	startTimeout = 10 * time.Second
)

type options struct {
	appBin, naiveBin, wrkBin string
	runs                     int
	duration, warmup         time.Duration
	connections              int
	rateFraction             float64
	jsonPath                 string
}

// server is one binary under test and how to start it on a port.
type server struct {
	name string
	cmd  func(port int) *exec.Cmd
}

// runResult is one measured run of one server.
type runResult struct {
	RPS        float64 `json:"rps"`          // wrk, saturated
	VegetaRPS  float64 `json:"vegeta_rps"`   // vegeta closed loop, saturated
	Rate       float64 `json:"rate"`         // the open-model run's offered rate
	P50Ms      float64 `json:"p50_ms"`       // open-model latency at Rate
	P99Ms      float64 `json:"p99_ms"`       // open-model latency at Rate
	WrkP99Ms   float64 `json:"wrk_p99_ms"`   // closed-loop latency at saturation
	Requests   uint64  `json:"requests"`     // open-model requests sent
	Errors     int64   `json:"errors"`       // open-model failures plus wrk errors
	PeakRSSMiB float64 `json:"peak_rss_mib"` // VmHWM after both measures
	// LogLinesDropped is what the service says it dropped because its stdout
	// did not keep up (app/log_writer.go): a dropped line's cost is missing
	// from the figures, so any makes the run not comparable.
	LogLinesDropped uint64 `json:"log_lines_dropped"`
}

// summary is the median of each metric over the runs.
type summary struct {
	RPS        float64 `json:"rps"`
	VegetaRPS  float64 `json:"vegeta_rps"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	WrkP99Ms   float64 `json:"wrk_p99_ms"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Errors     int64   `json:"errors"`
	// LogLinesDropped is the sum over the runs.
	LogLinesDropped uint64      `json:"log_lines_dropped"`
	Runs            []runResult `json:"runs"`
}

type report struct {
	Date        string             `json:"date"`
	GoVersion   string             `json:"go_version"`
	CPUs        int                `json:"cpus"`
	Path        string             `json:"path"`
	Concurrency int                `json:"concurrency"`
	DurationS   float64            `json:"duration_s"`
	Runs        int                `json:"runs"`
	Rate        float64            `json:"rate"`
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
	flag.StringVar(&o.wrkBin, "wrk", "wrk", "wrk binary (Debian: apt-get install wrk)")
	flag.IntVar(&o.runs, "runs", 3, "runs per server; the median is reported")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "each measure's length")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each run")
	flag.IntVar(&o.connections, "concurrency", 32, "wrk connections")
	flag.Float64Var(&o.rateFraction, "rate-fraction", 0.25, "open-model rate as a fraction of the naive server's vegeta throughput")
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
	if o.runs < 1 || o.connections < 1 || o.connections > 1024 || o.duration <= 0 || o.duration > 5*time.Minute ||
		o.rateFraction <= 0 || o.rateFraction > 1 {
		return errors.New("need runs >= 1, concurrency 1-1024, duration in (0, 5m], rate-fraction in (0, 1]")
	}
	if _, err := exec.LookPath(o.wrkBin); err != nil {
		return fmt.Errorf("wrk not found (%v): install it (Debian/Ubuntu: apt-get install wrk)", err)
	}
	servers := []server{
		{"hello-web", func(port int) *exec.Cmd {
			cmd := exec.Command(o.appBin)
			// PROBE_PORT=0: the probe listener on any free port, not 8081,
			// which may be taken here.
			cmd.Env = []string{"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "PROBE_PORT=0", "HELLO=Hello", "DRAIN_DELAY=0s"}
			return cmd
		}},
		{"naive", func(port int) *exec.Cmd {
			cmd := exec.Command(o.naiveBin, "127.0.0.1:"+strconv.Itoa(port))
			cmd.Env = []string{"HELLO=Hello"}
			return cmd
		}},
	}
	loadBefore := loadAvg()

	// One rate for every open-model run: a fraction of what the naive server
	// sustains here, so both servers are offered the same, unsaturating load.
	// A quarter, not a half: the calibration runs on a cold, quiet machine,
	// and in the bench of 2026-11-30 the later saturated runs reached only
	// half of its figure (the generator shares the two cores), so a half
	// queued both servers for seconds and the p99 measured the queue.
	calib, err := withServer(servers[1], o, func(target string) (runResult, error) {
		return saturate(target, o.connections, o.duration)
	})
	if err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	rate := math.Max(100, math.Round(calib.VegetaRPS*o.rateFraction/100)*100)
	fmt.Fprintf(os.Stderr, "calibration: naive %0.f req/s with vegeta; open-model rate %0.f req/s\n", calib.VegetaRPS, rate)

	results := map[string][]runResult{}
	for i := range o.runs {
		for _, s := range servers {
			r, err := withServer(s, o, func(target string) (runResult, error) {
				w, err := wrk(o, target)
				if err != nil {
					return w, err
				}
				sat, err := saturate(target, o.connections, o.duration)
				if err != nil {
					return sat, err
				}
				v, err := attack(target, rate, o.duration)
				if err != nil {
					return v, err
				}
				v.RPS, v.WrkP99Ms, v.VegetaRPS = w.RPS, w.WrkP99Ms, sat.VegetaRPS
				v.Errors += w.Errors + sat.Errors
				return v, nil
			})
			if err != nil {
				return fmt.Errorf("%s run %d: %w", s.name, i+1, err)
			}
			fmt.Fprintf(os.Stderr, "run %d %-9s wrk %8.0f req/s (p99 %6.3f ms) | vegeta %8.0f req/s | at %0.f req/s: p50 %6.3f ms p99 %6.3f ms | peak RSS %5.1f MiB | errors %d | log lines dropped %d\n",
				i+1, s.name, r.RPS, r.WrkP99Ms, r.VegetaRPS, rate, r.P50Ms, r.P99Ms, r.PeakRSSMiB, r.Errors, r.LogLinesDropped)
			results[s.name] = append(results[s.name], r)
		}
	}

	rep := report{
		Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Path: requestPath, Concurrency: o.connections, DurationS: o.duration.Seconds(), Runs: o.runs, Rate: rate,
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
		"rps":        pairedRatio(func(r runResult) float64 { return r.RPS }),
		"vegeta_rps": pairedRatio(func(r runResult) float64 { return r.VegetaRPS }),
		"p50":        pairedRatio(func(r runResult) float64 { return r.P50Ms }),
		"p99":        pairedRatio(func(r runResult) float64 { return r.P99Ms }),
		"peak_rss":   pairedRatio(func(r runResult) float64 { return r.PeakRSSMiB }),
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
	if a.LogLinesDropped > 0 {
		return fmt.Errorf("the service dropped %d access log lines (the bench did not read its stdout fast enough): their cost is missing from its figures, results are not comparable", a.LogLinesDropped)
	}
	return nil
}

// withServer starts one server, warms it up, runs measure against it, reads
// its peak RSS and stops it.
func withServer(s server, o options, measure func(target string) (runResult, error)) (runResult, error) {
	port, err := freePort()
	if err != nil {
		return runResult{}, err
	}
	target := fmt.Sprintf("http://127.0.0.1:%d%s", port, requestPath)
	if u, _ := url.Parse(target); u == nil || !net.ParseIP(u.Hostname()).IsLoopback() {
		return runResult{}, fmt.Errorf("refusing to load %s: loopback only", target)
	}
	cmd := s.cmd(port)
	// The service logs every request: that cost is part of it. The output is
	// discarded, but what the service says it dropped is counted.
	logs := &logDropWatcher{}
	cmd.Stdout = logs
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return runResult{}, err
	}
	defer stop(cmd)
	if err := waitReady(target); err != nil {
		return runResult{}, err
	}
	if o.warmup > 0 {
		if _, err := attack(target, 1000, o.warmup); err != nil {
			return runResult{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	r, err := measure(target)
	if err != nil {
		return r, err
	}
	r.PeakRSSMiB, err = peakRSSMiB(cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	// Stopped (SIGTERM), the service logs its total in the stopped line,
	// and Wait returns once its stdout has been read to the end.
	stop(cmd)
	r.LogLinesDropped = logs.Dropped()
	return r, nil
}

// logDropWatcher reads the service's stdout and keeps the largest count of
// dropped log lines it reports: dropped_total in a "log lines dropped" line,
// log_lines_dropped in the "stopped" line (app/log_writer.go). Chunks without
// either message are only scanned for them, not parsed.
type logDropWatcher struct {
	mu      sync.Mutex
	partial []byte
	dropped uint64
}

var (
	droppedMarker = []byte(`"msg":"log lines dropped"`)
	stoppedMarker = []byte(`"msg":"stopped"`)
)

func (w *logDropWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	last := bytes.LastIndexByte(p, '\n')
	if last < 0 {
		w.partial = append(w.partial, p...)
		return len(p), nil
	}
	lines := append(w.partial, p[:last+1]...)
	if bytes.Contains(lines, droppedMarker) || bytes.Contains(lines, stoppedMarker) {
		for line := range bytes.SplitSeq(lines, []byte{'\n'}) {
			if !bytes.Contains(line, droppedMarker) && !bytes.Contains(line, stoppedMarker) {
				continue
			}
			var e struct {
				Total  uint64 `json:"dropped_total"`
				AtStop uint64 `json:"log_lines_dropped"`
			}
			if json.Unmarshal(line, &e) == nil {
				w.dropped = max(w.dropped, e.Total, e.AtStop)
			}
		}
	}
	w.partial = append(w.partial[:0], p[last+1:]...)
	return len(p), nil
}

// Dropped is the largest count of dropped log lines seen.
func (w *logDropWatcher) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

func waitReady(target string) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
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

var (
	wrkRPS    = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkP99    = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s)\b`)
	wrkErrors = regexp.MustCompile(`(?m)^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses: (\d+)`)
)

// wrk runs `wrk -t1 -c<connections> -d<duration> --latency` and parses its
// summary: requests/s, the 99th percentile latency and the error counts.
func wrk(o options, target string) (runResult, error) {
	secs := max(1, int(o.duration.Round(time.Second).Seconds()))
	cmd := exec.Command(o.wrkBin, "-t1", "-c"+strconv.Itoa(o.connections), "-d"+strconv.Itoa(secs)+"s",
		"--timeout", "5s", "--latency", target)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return runResult{}, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	text := out.String()
	m := wrkRPS.FindStringSubmatch(text)
	if m == nil {
		return runResult{}, fmt.Errorf("wrk printed no Requests/sec:\n%s", text)
	}
	r := runResult{}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	if p := wrkP99.FindStringSubmatch(text); p != nil {
		v, _ := strconv.ParseFloat(p[1], 64)
		r.WrkP99Ms = v * map[string]float64{"us": 1e-3, "ms": 1, "s": 1e3}[p[2]]
	}
	if e := wrkErrors.FindStringSubmatch(text); e != nil {
		for _, n := range e[1:] {
			v, _ := strconv.ParseInt(n, 10, 64)
			r.Errors += v
		}
	}
	if e := wrkNon2xx.FindStringSubmatch(text); e != nil {
		v, _ := strconv.ParseInt(e[1], 10, 64)
		r.Errors += v
	}
	return r, nil
}

// saturate sends GET target from the given number of vegeta workers, each
// waiting for its answer before the next request (a closed loop, like wrk),
// for d, and returns the successful requests per second.
func saturate(target string, workers int, d time.Duration) (runResult, error) {
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: target})
	n := uint64(workers)
	attacker := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second),
		vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.Connections(workers),
		vegeta.MaxBody(int64(len(wantBody))+1), vegeta.Redirects(vegeta.NoFollow))
	// A zero pacer is no rate limit: vegeta sends as fast as the workers can.
	var m vegeta.Metrics
	var bad int64
	for res := range attacker.Attack(targeter, vegeta.ConstantPacer{}, d, "saturate") {
		if res.Code != http.StatusOK || string(res.Body) != wantBody {
			bad++
		}
		m.Add(res)
	}
	m.Close()
	if m.Requests == 0 {
		return runResult{}, fmt.Errorf("no request sent to %s", target)
	}
	return runResult{VegetaRPS: m.Throughput, Errors: bad}, nil
}

// attack offers GET target at a constant rate for d (vegeta's open model) and
// returns the latency percentiles; a response that is not 200 with the
// expected body counts as an error.
func attack(target string, rate float64, d time.Duration) (runResult, error) {
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: target})
	attacker := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second),
		vegeta.MaxBody(int64(len(wantBody))+1), vegeta.Redirects(vegeta.NoFollow))
	pacer := vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
	var m vegeta.Metrics
	var bad int64
	for res := range attacker.Attack(targeter, pacer, d, "bench") {
		if res.Code != http.StatusOK || string(res.Body) != wantBody {
			bad++
		}
		m.Add(res)
	}
	m.Close()
	if m.Requests == 0 {
		return runResult{}, fmt.Errorf("no request sent to %s", target)
	}
	return runResult{
		Rate:     rate,
		Requests: m.Requests,
		Errors:   bad,
		P50Ms:    ms(m.Latencies.P50),
		P99Ms:    ms(m.Latencies.P99),
	}, nil
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
		VegetaRPS:  med(func(r runResult) float64 { return r.VegetaRPS }),
		P50Ms:      med(func(r runResult) float64 { return r.P50Ms }),
		P99Ms:      med(func(r runResult) float64 { return r.P99Ms }),
		WrkP99Ms:   med(func(r runResult) float64 { return r.WrkP99Ms }),
		PeakRSSMiB: med(func(r runResult) float64 { return r.PeakRSSMiB }),
		Runs:       rs,
	}
	for _, r := range rs {
		s.Errors += r.Errors
		s.LogLinesDropped += r.LogLinesDropped
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
	fmt.Fprintf(&b, "\nGET %s on 127.0.0.1, %d x %s per server and measure (median), %s, %d CPUs\n"+
		"req/s: wrk -t1 -c%d and vegeta with %d workers (saturated); p50/p99: vegeta open model at a constant %.0f req/s\n\n",
		r.Path, r.Runs, time.Duration(r.DurationS*float64(time.Second)), r.GoVersion, r.CPUs, r.Concurrency, r.Concurrency, r.Rate)
	b.WriteString("| server | req/s (wrk) | req/s (vegeta) | p50 (ms) | p99 (ms) | peak RSS (MiB) | errors |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, name := range []string{"hello-web", "naive"} {
		s := r.Servers[name]
		label := name
		if name == "naive" {
			label = "naive (seed)"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.3f | %.3f | %.1f | %d |\n", label, s.RPS, s.VegetaRPS, s.P50Ms, s.P99Ms, s.PeakRSSMiB, s.Errors)
	}
	fmt.Fprintf(&b, "| ratio hello-web / naive | %.2f | %.2f | %.2f | %.2f | %.2f | |\n",
		r.Ratio["rps"], r.Ratio["vegeta_rps"], r.Ratio["p50"], r.Ratio["p99"], r.Ratio["peak_rss"])
	fmt.Fprintf(&b, "\nRatios are medians of per-run ratios (each run measures both servers back to back).\n"+
		"Load average before / after: %s / %s. Load generator and server share the CPUs.\n", r.LoadAvgBefore, r.LoadAvgAfter)
	return b.String()
}
