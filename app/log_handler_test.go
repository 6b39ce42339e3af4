package main

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// The service's log handler must write what slog's JSON handler writes,
// byte for byte: the bake alarms and every log query were written against
// slog's lines (access_log_contract_test.go), so a faster encoder may not
// drop, rename, reorder or reformat anything.
func TestJSONLogHandlerWritesWhatSlogWrites(t *testing.T) {
	at := time.Date(2026, 11, 30, 13, 14, 15, 123456789, time.UTC)
	cases := [][]slog.Attr{
		{slog.String("method", "GET"), slog.String("path", "/world"), slog.Int("status", 200),
			slog.Float64("duration_ms", 0.042), slog.Int64("bytes", 13)},
		{slog.Float64("f", 0), slog.Float64("f", 1e-7), slog.Float64("f", 1e21), slog.Float64("f", -2.5e-9),
			slog.Float64("f", 123456.789), slog.Float64("f", math.MaxFloat64), slog.Float64("f", math.SmallestNonzeroFloat64)},
		{slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(1))},
		{slog.Uint64("u", math.MaxUint64), slog.Int64("i", math.MinInt64), slog.Bool("b", true), slog.Bool("b", false)},
		// One odd string a case: any of them sends the whole record to slog.
		{slog.String("path", "/\xff")}, {slog.String("path", "/a\"b")}, {slog.String("path", `/a\b`)},
		{slog.String("path", "/\n")}, {slog.String("path", "/\t\x00\x7f")}, {slog.String("path", "/<>&")},
		{slog.String("path", "/\u2028é")}, {slog.String("p ~!", "/ok")},
		{slog.String("", "empty key"), slog.Any("", nil)},
		{slog.Group("g", slog.Int("a", 1)), slog.Duration("d", time.Second), slog.Time("t", at)},
		{slog.Any("err", context.Canceled), slog.Any("list", []int{1, 2})},
		{slog.String("k\"ey", "v")},
		{},
	}
	for i, attrs := range cases {
		for _, msg := range []string{"request", "listening", "quo\"te\n", ""} {
			for _, when := range []time.Time{at, {}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()} {
				for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelError + 2} {
					r := slog.NewRecord(when, level, msg, 0)
					r.AddAttrs(attrs...)
					var want, got bytes.Buffer
					_ = slog.NewJSONHandler(&want, nil).Handle(context.Background(), r)
					_ = newJSONLogHandler(&got).Handle(context.Background(), r)
					if got.String() != want.String() {
						t.Errorf("case %d, msg %q, level %s:\ngot  %s\nwant %s", i, msg, level, got.String(), want.String())
					}
				}
			}
		}
	}
}

func FuzzJSONLogHandlerWritesWhatSlogWrites(f *testing.F) {
	f.Add("request", "/world", int64(200), 0.042, uint64(13))
	f.Add("r\x00", "/\xff\"", int64(-1), 1e-9, uint64(0))
	f.Fuzz(func(t *testing.T, msg, path string, status int64, ms float64, n uint64) {
		r := slog.NewRecord(time.Unix(1_700_000_000, 5), slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.String("path", path), slog.Int64("status", status), slog.Float64("duration_ms", ms),
			slog.Uint64("bytes", n), slog.String(path, msg))
		var want, got bytes.Buffer
		_ = slog.NewJSONHandler(&want, nil).Handle(context.Background(), r)
		_ = newJSONLogHandler(&got).Handle(context.Background(), r)
		if got.String() != want.String() {
			t.Errorf("\ngot  %s\nwant %s", got.String(), want.String())
		}
	})
}

// Loggers derived with With or WithGroup keep every attribute.
func TestJSONLogHandlerDerivedLoggers(t *testing.T) {
	var got bytes.Buffer
	slog.New(newJSONLogHandler(&got)).With("a", 1).WithGroup("g").Info("m", "b", 2)
	if !strings.Contains(got.String(), `"a":1,"g":{"b":2}`) {
		t.Errorf("got %s", got.String())
	}
}
