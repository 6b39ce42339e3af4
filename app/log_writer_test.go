package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
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
// goroutines while stdout is slow, more than the writer holds in memory,
// all reach stdout by the time Close returns, each goroutine's in its
// order, and every write to stdout ends on a line boundary.
func TestBatchWriterKeepsEveryLineInOrder(t *testing.T) {
	out := newGatedWriter()
	w := newBatchWriter(out)
	const goroutines, lines = 4, 2000
	pad := strings.Repeat("x", 100) // 4 x 2000 lines of ~110 bytes: over maxPendingLogBytes
	// Closed once some goroutine has queued 10 lines (before the queue is
	// full, one has: it holds thousands).
	queued := make(chan struct{})
	var queuedOnce sync.Once
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range lines {
				if _, err := fmt.Fprintf(w, "g%d n%d %s\n", g, n, pad); err != nil {
					t.Errorf("Write: %v", err)
				}
				if n == 10 {
					queuedOnce.Do(func() { close(queued) })
				}
			}
		})
	}
	<-out.started // the writer goroutine is stuck in a write...
	<-queued      // ...while later lines queue up behind it
	close(out.open)
	wg.Wait()
	w.Close()

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
	if out.torn {
		t.Error("a write to stdout ended in the middle of a line")
	}
	if out.writes >= goroutines*lines {
		t.Errorf("%d writes for %d lines: nothing was batched", out.writes, goroutines*lines)
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
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	close(out.open)
	<-closed
	if got := out.String(); got != "first\nqueued\n" {
		t.Fatalf("after Close stdout holds %q, want both lines", got)
	}
	_, _ = w.Write([]byte("late\n"))
	w.Close()
	if got := out.String(); got != "first\nqueued\nlate\n" {
		t.Errorf("a line written after Close: stdout holds %q", got)
	}
}
