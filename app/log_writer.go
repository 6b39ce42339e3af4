package main

import (
	"io"
	"log/slog"
	"sync"
	"time"
)

// maxPendingLogBytes bounds the log bytes waiting for the writer goroutine.
// Past it, a request that logs waits for the write to stdout, as it did
// when every line was its own write: memory stays bounded and no line is
// dropped. Some thousand access log lines.
const maxPendingLogBytes = 256 << 10

// logLinger is the longest a log line waits for others to share its
// write, when fewer than lingerBelowBytes are queued: a line reaches stdout
// at most about a millisecond after it is logged.
const (
	logLinger        = time.Millisecond
	lingerBelowBytes = 32 << 10
)

// newLogger returns the service's JSON logger writing to out, and a close
// function that writes every line still pending and stops the writer; run
// calls it last, so that no line logged before shutdown is lost.
func newLogger(out io.Writer) (*slog.Logger, func()) {
	w := newBatchWriter(out)
	return slog.New(newJSONLogHandler(w)), w.Close
}

// batchWriter writes log lines to out from one goroutine, as many lines per
// write(2) as arrived while the previous write was under way (a "group
// commit"). One write syscall per access log line was about a tenth of the
// service's CPU under load (docs/decisions/0020-access-log-cost.md). There is
// no flush interval: when the service is quiet each line is written as soon
// as the goroutine wakes, and under load lines queue only for as long as the
// write before them takes.
//
// bufio.Writer alone would not do: it writes only when full or flushed, so a
// quiet service would hold its last lines indefinitely.
type batchWriter struct {
	out io.Writer

	mu      sync.Mutex
	pending []byte     // lines not yet handed to the writer goroutine
	data    *sync.Cond // signalled when pending grows or closing is set
	room    *sync.Cond // broadcast when pending is taken
	closing bool
	done    chan struct{} // closed when the goroutine has written all
	direct  sync.Mutex    // serialises the writes made after Close
}

func newBatchWriter(out io.Writer) *batchWriter {
	w := &batchWriter{out: out, done: make(chan struct{})}
	w.data = sync.NewCond(&w.mu)
	w.room = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// Write queues p, which slog hands over one whole line at a time. It never
// fails: an error writing to out is the writer goroutine's, as a failed write
// to stdout was slog's before, and nothing reports it either way.
func (w *batchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closing && len(w.pending) > 0 && len(w.pending)+len(p) > maxPendingLogBytes {
		w.room.Wait()
	}
	if w.closing {
		w.mu.Unlock()
		// After Close, straight through, once everything queued before
		// is written.
		<-w.done
		w.direct.Lock()
		defer w.direct.Unlock()
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	w.data.Signal()
	w.mu.Unlock()
	return len(p), nil
}

func (w *batchWriter) loop() {
	defer close(w.done)
	var batch []byte
	for {
		w.mu.Lock()
		for len(w.pending) == 0 && !w.closing {
			w.data.Wait()
		}
		if len(w.pending) == 0 {
			w.mu.Unlock()
			return
		}
		if !w.closing && len(w.pending) < lingerBelowBytes {
			// Let lines gather for a moment: a write(2) per line or two
			// costs the service about as much as it did unbatched.
			w.mu.Unlock()
			time.Sleep(logLinger)
			w.mu.Lock()
		}
		// Swap buffers: writers append to the other one meanwhile.
		batch, w.pending = w.pending, batch[:0]
		w.room.Broadcast()
		w.mu.Unlock()
		_, _ = w.out.Write(batch)
	}
}

// Close writes every queued line and returns once they are written. Lines
// written after Close go straight to out. Safe to call more than once.
func (w *batchWriter) Close() {
	w.mu.Lock()
	w.closing = true
	w.data.Signal()
	w.room.Broadcast()
	w.mu.Unlock()
	<-w.done
}
