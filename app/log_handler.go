package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// jsonLogHandler writes exactly what slog.NewJSONHandler(out, nil) writes,
// byte for byte (log_handler_test.go compares the two), at a fraction of
// its cost for the records the service logs on every request: flat records
// whose keys and string values are plain printable ASCII and whose values
// are strings, integers, finite floats or booleans. Every other record, and
// every logger derived with With or WithGroup, goes to the JSON handler
// itself. The access log line was about a tenth of the service's CPU in
// slog's generic encoder; a float alone goes through encoding/json there
// (docs/decisions/0020-access-log-cost.md).
//
// out must be safe for concurrent use (batchWriter is): unlike slog's
// handler, this one takes no lock of its own around the Write.
type jsonLogHandler struct {
	out  io.Writer
	json *slog.JSONHandler
}

func newJSONLogHandler(out io.Writer) *jsonLogHandler {
	return &jsonLogHandler{out: out, json: slog.NewJSONHandler(out, nil)}
}

func (h *jsonLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.json.Enabled(ctx, l)
}

func (h *jsonLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.json.WithAttrs(attrs) }
func (h *jsonLogHandler) WithGroup(name string) slog.Handler       { return h.json.WithGroup(name) }

var logLinePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *jsonLogHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := logLinePool.Get().(*[]byte)
	defer logLinePool.Put(bp)
	b, ok := appendFlatJSONRecord((*bp)[:0], r)
	*bp = b[:0]
	if !ok {
		return h.json.Handle(ctx, r)
	}
	// One Write per line, as slog does: the writer may be shared.
	_, err := h.out.Write(b)
	return err
}

// appendFlatJSONRecord appends r as slog's JSON handler would, or reports
// false if r holds anything it does not encode the same way.
func appendFlatJSONRecord(b []byte, r slog.Record) ([]byte, bool) {
	if !plainJSONString(r.Message) {
		return b, false
	}
	b = append(b, '{')
	if !r.Time.IsZero() {
		t := r.Time
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false // slog writes an error there
		}
		b = append(b, `"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":"`...)
	b = append(b, r.Level.String()...)
	b = append(b, `","msg":"`...)
	b = append(b, r.Message...)
	b = append(b, '"')
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" || !plainJSONString(a.Key) {
			ok = false
			return false
		}
		b = append(b, `,"`...)
		b = append(b, a.Key...)
		b = append(b, `":`...)
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			s := v.String()
			if !plainJSONString(s) {
				ok = false
				return false
			}
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindFloat64:
			f := v.Float64()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				ok = false // slog writes an error there
				return false
			}
			b = appendJSONFloat(b, f)
		default:
			ok = false
			return false
		}
		return true
	})
	if !ok {
		return b, false
	}
	return append(b, "}\n"...), true
}

// plainJSONString reports whether s is printable ASCII that JSON (and slog)
// writes as it is, with no escape.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendJSONFloat formats a finite float as encoding/json does (and so
// slog, which calls it): the shortest representation, in exponent form
// only for very small or very large magnitudes.
// Source: floatEncoder.encode in $GOROOT/src/encoding/json/encode.go.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
