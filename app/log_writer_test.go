package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedWriter is a slow stdout: its first Write waits until open is
// closed, so lines pile up behind it as they would behind a busy pipe.
type gatedWriter struct {
	open    chan struct{}
	started chan struct{} // closed when the first Write arrives
	once    sync.Once

	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	torn   bool // a Write that did not end a line
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{open: make(chan struct{}), started: make(chan struct{})}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.started) })
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes++
	if len(p) == 0 || p[len(p)-1] != '\n' {
		g.torn = true
	}
	return g.buf.Write(p)
}

func (g *gatedWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

// Nothing lost, nothing reordered, nothing torn: lines written from many
// goroutines while stdout keeps up all reach stdout by the time Close
// returns, each goroutine's in its order, and every write to stdout ends on
// a line boundary. (Fewer lines than the queue holds, so that none can be
// dropped however the goroutines are scheduled.)
func TestBatchWriterKeepsEveryLineInOrder(t *testing.T) {
	var out syncBuffer
	w := newBatchWriter(&out)
	const goroutines, lines = 4, 500
	pad := strings.Repeat("x", 100) // 4 x 500 lines of ~110 bytes: under maxPendingLogBytes
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range lines {
				if _, err := fmt.Fprintf(w, "g%d n%d %s\n", g, n, pad); err != nil {
					t.Errorf("Write: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if r := w.Close(waitLong); r.TimedOut || r.Dropped != 0 {
		t.Fatalf("Close = %+v, want every line written", r)
	}
	next := make([]int, goroutines)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var g, n int
		if _, err := fmt.Sscanf(line, "g%d n%d", &g, &n); err != nil {
			t.Fatalf("unexpected line %q: %v", line, err)
		}
		if n != next[g] {
			t.Fatalf("goroutine %d: line %d came when %d was due", g, n, next[g])
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines written, want %d", g, n, lines)
		}
	}
}

// slowWriter is a stdout that is read, slowly: every write takes a while,
// far less than logStuckAfter.
type slowWriter struct {
	delay time.Duration
	syncBuffer
	writes atomic.Int64
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.delay)
	s.writes.Add(1)
	return s.syncBuffer.Write(p)
}

// A stdout that is slow but read (a busy log collector) makes the goroutines
// that log wait when the queue is full, as a write per line did: nothing is
// dropped, nothing reordered, and the lines are batched.
func TestBatchWriterWaitsForASlowStdoutAndDropsNothing(t *testing.T) {
	out := &slowWriter{delay: logStuckAfter / 10}
	w := newBatchWriter(out)
	const goroutines, lines = 4, 2000
	pad := strings.Repeat("x", 100) // 4 x 2000 lines of ~110 bytes: over maxPendingLogBytes
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range lines {
				if _, err := fmt.Fprintf(w, "g%d n%d %s\n", g, n, pad); err != nil {
					t.Errorf("Write: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if r := w.Close(waitLong); r.TimedOut || r.Dropped != 0 {
		t.Fatalf("Close = %+v, want every line written", r)
	}
	next := make([]int, goroutines)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var g, n int
		if _, err := fmt.Sscanf(line, "g%d n%d", &g, &n); err != nil {
			t.Fatalf("unexpected line %q: %v", line, err)
		}
		if n != next[g] {
			t.Fatalf("goroutine %d: line %d came when %d was due", g, n, next[g])
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines written, want %d", g, n, lines)
		}
	}
	if n := out.writes.Load(); n >= goroutines*lines/10 {
		t.Errorf("%d writes for %d lines: hardly batched", n, goroutines*lines)
	}
}

// A stdout that takes nothing (a pipe nobody reads) holds up a goroutine
// that logs for logStuckAfter at most: every Write returns while stdout is
// still stuck, the lines that do not fit in the queue are dropped and
// counted, and once stdout takes lines again they come in order, untorn,
// batched, followed by a line that says how many were dropped.
func TestBatchWriterDropsAndCountsWhatStdoutDoesNotTake(t *testing.T) {
	out := newGatedWriter()
	w := newBatchWriter(out)
	const goroutines, lines = 4, 2000
	pad := strings.Repeat("x", 100) // 4 x 2000 lines of ~110 bytes: over maxPendingLogBytes
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range lines {
				if _, err := fmt.Fprintf(w, "g%d n%d %s\n", g, n, pad); err != nil {
					t.Errorf("Write: %v", err)
				}
			}
		})
	}
	<-out.started // the writer goroutine is stuck in a write...
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished: // ...and every goroutine that logs got through anyway
	case <-time.After(waitLong):
		close(out.open)
		t.Fatal("goroutines that log were held up by a stdout that takes nothing")
	}
	dropped := w.Dropped()
	if dropped == 0 {
		t.Fatalf("%d lines of %d bytes, more than the queue's %d, and none dropped", goroutines*lines, len(pad)+10, maxPendingLogBytes)
	}
	close(out.open)
	if r := w.Close(waitLong); r.TimedOut || r.Dropped != dropped {
		t.Fatalf("Close = %+v, want no timeout and the %d lines dropped before", r, dropped)
	}

	next := make([]int, goroutines)
	written, reported := 0, uint64(0)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "{") {
			var e struct {
				Msg     string `json:"msg"`
				Level   string `json:"level"`
				Dropped uint64 `json:"dropped"`
				Total   uint64 `json:"dropped_total"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil || e.Msg != droppedLogLinesMsg || e.Level != "WARN" {
				t.Fatalf("unexpected line %q (%v)", line, err)
			}
			reported += e.Dropped
			if e.Total != reported {
				t.Errorf("dropped_total %d, want %d (the sum of the counts so far)", e.Total, reported)
			}
			continue
		}
		var g, n int
		if _, err := fmt.Sscanf(line, "g%d n%d", &g, &n); err != nil {
			t.Fatalf("unexpected line %q: %v", line, err)
		}
		if n < next[g] {
			t.Fatalf("goroutine %d: line %d came after line %d", g, n, next[g]-1)
		}
		next[g] = n + 1
		written++
	}
	if uint64(written)+dropped != goroutines*lines {
		t.Errorf("%d lines written and %d dropped, want %d in all", written, dropped, goroutines*lines)
	}
	if reported != dropped {
		t.Errorf("the count lines add up to %d, want the %d dropped", reported, dropped)
	}
	if out.torn {
		t.Error("a write to stdout ended in the middle of a line")
	}
	if out.writes >= written {
		t.Errorf("%d writes for %d lines: nothing was batched", out.writes, written)
	}
}

// Close returns only once every queued line is on stdout; lines logged
// after it (by a goroutine that outlived run) still get there.
func TestBatchWriterCloseWritesQueuedLines(t *testing.T) {
	out := newGatedWriter()
	w := newBatchWriter(out)
	_, _ = w.Write([]byte("first\n"))
	<-out.started
	_, _ = w.Write([]byte("queued\n"))
	closed := make(chan logCloseResult)
	go func() { closed <- w.Close(waitLong) }()
	close(out.open)
	if r := <-closed; r.TimedOut || r.Dropped != 0 {
		t.Errorf("Close = %+v, want every line written", r)
	}
	if got := out.String(); got != "first\nqueued\n" {
		t.Fatalf("after Close stdout holds %q, want both lines", got)
	}
	_, _ = w.Write([]byte("late\n"))
	w.Close(waitLong)
	if got := out.String(); got != "first\nqueued\nlate\n" {
		t.Errorf("a line written after Close: stdout holds %q", got)
	}
}

// If stdout takes nothing, Close gives up after its timeout: it counts what
// it could not write, and lines logged afterwards are dropped, not waited
// for. The process can stop.
func TestBatchWriterCloseGivesUpOnAStdoutThatTakesNothing(t *testing.T) {
	out := newGatedWriter()
	defer close(out.open)
	w := newBatchWriter(out)
	_, _ = w.Write([]byte("stuck\n"))
	<-out.started
	_, _ = w.Write([]byte("queued 1\n"))
	_, _ = w.Write([]byte("queued 2\n"))
	start := time.Now()
	r := w.Close(100 * time.Millisecond)
	if took := time.Since(start); took > waitLong {
		t.Fatalf("Close took %s", took)
	}
	if !r.TimedOut || r.Dropped != 2 || r.BeingWritten != 1 {
		t.Errorf("Close = %+v, want a timeout, the 2 queued lines dropped and 1 being written", r)
	}
	if s := r.String(); !strings.HasPrefix(s, "log lines dropped: 2, and up to 1 more") {
		t.Errorf("what stderr would say: %q", s)
	}
	wrote := make(chan struct{})
	go func() { _, _ = w.Write([]byte("after\n")); close(wrote) }()
	select {
	case <-wrote:
	case <-time.After(waitLong):
		t.Fatal("a Write after Close gave up waited for stdout")
	}
	if w.Dropped() != 3 {
		t.Errorf("Dropped = %d, want 3", w.Dropped())
	}
}
