package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxPendingLogBytes bounds the log bytes waiting for the writer goroutine:
// some thousand access log lines. Past it, a request that logs waits for
// the write to stdout under way, as it did when every line was its own
// write, unless that write has taken longer than logStuckAfter: then stdout
// is not being read (a full pipe, a stalled log collector), and the line is
// dropped and counted instead. Such a stdout must not stop the requests and
// the probes that log, nor the shutdown (issue 27;
// docs/decisions/0034-probe-port-and-log-drops.md).
const maxPendingLogBytes = 256 << 10

// logStuckAfter is how long one write to stdout may take before the writer
// counts stdout as not read, and lines that find the queue full are dropped
// rather than waited for. A pipe that is read takes the largest batch
// (maxPendingLogBytes) in milliseconds, but a loaded machine can stall its
// reader for a good part of this (at 100 ms, BenchmarkAccessLogToPipe
// dropped lines in one run of three here, with a load average of 9 on 2
// CPUs). A request that logs waits at most about this long, once per stall:
// well inside the kubelet's 2 s probe timeout.
const logStuckAfter = 500 * time.Millisecond

// logLinger is the longest a log line waits for others to share its
// write, when fewer than lingerBelowBytes are queued: a line reaches stdout
// at most about a millisecond after it is logged.
const (
	logLinger        = time.Millisecond
	lingerBelowBytes = 32 << 10
)

// logCloseTimeout bounds how long the end of run waits for stdout to take
// the lines still queued. A stdout that takes nothing for this long is not
// being read; the process must still stop within Kubernetes' grace period
// (lib/manifests/workload.ts keeps a margin for it).
const logCloseTimeout = 2 * time.Second

// droppedLogLinesMsg is the message of the line that says how many lines
// were dropped, and the start of what stderr says when they cannot be said
// on stdout.
const droppedLogLinesMsg = "log lines dropped"

// newLogger returns the service's JSON logger writing to out, and the
// writer behind it, which run closes last (closeLogs).
func newLogger(out io.Writer) (*slog.Logger, *batchWriter) {
	w := newBatchWriter(out)
	return slog.New(newJSONLogHandler(w)), w
}

// batchWriter writes log lines to out from one goroutine, as many lines per
// write(2) as arrived while the previous write was under way (a "group
// commit"). One write syscall per access log line was about a tenth of the
// service's CPU under load (docs/decisions/0020-access-log-cost.md). There is
// no flush interval: when the service is quiet each line is written as soon
// as the goroutine wakes, and under load lines queue only for as long as the
// write before them takes.
//
// A full queue holds up the goroutines that log while out is slow (back
// pressure, nothing lost), but not while out takes nothing: once a write has
// been under way for logStuckAfter, lines that find the queue full are
// dropped and counted, and the next write that goes through ends with a line
// saying how many (droppedLogLinesMsg).
//
// bufio.Writer alone would not do: it writes only when full or flushed, so a
// quiet service would hold its last lines indefinitely.
type batchWriter struct {
	out io.Writer

	mu         sync.Mutex
	pending    []byte     // lines not yet handed to the writer goroutine
	data       *sync.Cond // signalled when pending grows or closing is set
	room       *sync.Cond // broadcast when pending is taken, or when waiting for room is over
	closing    bool
	writing    bool      // the writer goroutine is in out.Write...
	writeStart time.Time // ...since then
	stuck      bool      // ...for longer than logStuckAfter: do not wait for room
	stuckTimer *time.Timer
	exited     bool   // the writer goroutine has written everything and ended
	abandoned  bool   // Close gave up waiting for out: lines are dropped from now on
	unreported uint64 // lines dropped since the last report was queued
	inFlight   int    // lines in the write under way

	dropped atomic.Uint64 // lines dropped since the start
	done    chan struct{} // closed when the goroutine has ended
	direct  sync.Mutex    // serialises the writes made after the goroutine ended
}

func newBatchWriter(out io.Writer) *batchWriter {
	w := &batchWriter{out: out, done: make(chan struct{})}
	w.data = sync.NewCond(&w.mu)
	w.room = sync.NewCond(&w.mu)
	w.stuckTimer = time.AfterFunc(time.Hour, w.checkStuck)
	w.stuckTimer.Stop()
	go w.loop()
	return w
}

// Write queues p, which slog hands over one whole line at a time. It never
// fails, and never waits for a stdout that takes nothing: a line that does
// not fit in the queue then is dropped and counted. An error writing to out
// is the writer goroutine's, as a failed write to stdout was slog's before.
func (w *batchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.exited {
		w.mu.Unlock()
		// After Close, straight through: everything queued before is out.
		w.direct.Lock()
		defer w.direct.Unlock()
		return w.out.Write(p)
	}
	full := func() bool { return len(w.pending) > 0 && len(w.pending)+len(p) > maxPendingLogBytes }
	for full() && !w.stuck && !w.abandoned {
		w.room.Wait()
	}
	if w.abandoned || full() {
		w.unreported++
		w.dropped.Add(1)
		w.mu.Unlock()
		return len(p), nil
	}
	w.pending = append(w.pending, p...)
	w.data.Signal()
	w.mu.Unlock()
	return len(p), nil
}

// Dropped is how many lines were dropped since the start.
func (w *batchWriter) Dropped() uint64 { return w.dropped.Load() }

func (w *batchWriter) loop() {
	defer close(w.done)
	var batch []byte
	for {
		w.mu.Lock()
		for len(w.pending) == 0 && !w.closing {
			w.data.Wait()
		}
		if len(w.pending) == 0 {
			w.exited = true
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
		// The lines dropped so far were logged after those now in batch
		// (they found the queue full), so the line that counts them goes
		// at its end.
		reported := w.unreported
		if reported > 0 {
			w.unreported = 0
			batch = appendDroppedLine(batch, reported, w.dropped.Load())
		}
		w.inFlight = bytes.Count(batch, []byte{'\n'})
		if reported > 0 {
			w.inFlight-- // the count line
		}
		w.writing, w.writeStart = true, time.Now()
		w.stuckTimer.Reset(logStuckAfter)
		w.mu.Unlock()

		n, err := w.out.Write(batch)

		w.stuckTimer.Stop()
		w.mu.Lock()
		w.writing, w.stuck = false, false
		w.inFlight = 0
		if err != nil {
			// Lost too: count them. The count line, last in the batch, is
			// not a line of the service's; the lines it counted are
			// reported again with the next batch (not at once, which
			// would spin on a broken stdout).
			lost := uint64(bytes.Count(batch[n:], []byte{'\n'}))
			if reported > 0 {
				lost--
				w.unreported += reported
			}
			w.unreported += lost
			w.dropped.Add(lost)
		}
		w.mu.Unlock()
	}
}

// checkStuck runs logStuckAfter after a write to out began: if that write is
// still under way, out is not taking lines, and goroutines waiting for room
// in the queue stop waiting and drop their lines. (A timer that fires late,
// for an earlier write, finds a later write too recent and does nothing.)
func (w *batchWriter) checkStuck() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writing && time.Since(w.writeStart) >= logStuckAfter {
		w.stuck = true
		w.room.Broadcast()
	}
}

// appendDroppedLine appends the line that says n lines were dropped (total
// since the start), in the service's JSON log format.
func appendDroppedLine(b []byte, n, total uint64) []byte {
	r := slog.NewRecord(time.Now(), slog.LevelWarn, droppedLogLinesMsg, 0)
	r.AddAttrs(
		slog.Uint64("dropped", n),
		slog.Uint64("dropped_total", total),
		slog.String("reason", "stdout took no lines for "+logStuckAfter.String()+" while the log queue was full"),
	)
	b, _ = appendFlatJSONRecord(b, r) // flat and plain ASCII: always encoded here
	return b
}

// logCloseResult is what Close could not write.
type logCloseResult struct {
	// Dropped is every line dropped since the start, the lines still
	// queued when Close gave up included.
	Dropped uint64
	// BeingWritten is how many lines were in the write to out that Close
	// gave up on: some may have reached out, the rest are lost.
	BeingWritten int
	// TimedOut is set when out took nothing for the whole timeout (Waited):
	// what was lost could not be said on out.
	TimedOut bool
	Waited   time.Duration
}

// Close writes every queued line and returns once they are written, or
// after timeout if out does not take them: then the queued lines are
// counted as dropped, lines logged afterwards are dropped too, and the
// writer goroutine is left in its write (the process is about to exit).
// Lines written after a complete Close go straight to out. Safe to call
// more than once.
func (w *batchWriter) Close(timeout time.Duration) logCloseResult {
	w.mu.Lock()
	w.closing = true
	w.data.Signal()
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
		return logCloseResult{Dropped: w.dropped.Load()}
	case <-t.C:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.exited {
		return logCloseResult{Dropped: w.dropped.Load()}
	}
	w.abandoned = true
	w.room.Broadcast()
	w.dropped.Add(uint64(bytes.Count(w.pending, []byte{'\n'})))
	w.pending = nil
	return logCloseResult{Dropped: w.dropped.Load(), BeingWritten: w.inFlight, TimedOut: true, Waited: timeout}
}

// String says what was lost, for stderr when stdout could not say it.
func (r logCloseResult) String() string {
	return fmt.Sprintf("%s: %d, and up to %d more that were being written (stdout took nothing for %s at exit: is it read?)",
		droppedLogLinesMsg, r.Dropped, r.BeingWritten, r.Waited)
}
