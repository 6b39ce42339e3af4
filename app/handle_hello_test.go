package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// newTestServer is the service's full handler (routes and access log) with
// logs discarded.
func newTestServer(greeting string) (http.Handler, *readiness) {
	ready := &readiness{}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return NewServer(logger, greeting, buildInfo{Version: "1.2.3", Commit: "abc123"}, ready), ready
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestHandleHelloGreets(t *testing.T) {
	h, _ := newTestServer("Hello")
	tests := []struct {
		target string
		want   string
	}{
		{"/world", "Hello, world!"},
		{"/", "Hello, world!"},
		{"/Gopher", "Hello, Gopher!"},
		{"/J%C3%BCrgen", "Hello, Jürgen!"},
		{"/%E4%B8%96%E7%95%8C", "Hello, 世界!"},
		{"/a%20b", "Hello, a b!"},
		{"/" + strings.Repeat("é", maxNameRunes), "Hello, " + strings.Repeat("é", maxNameRunes) + "!"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := serve(h, http.MethodGet, tt.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %q", rec.Code, rec.Body)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
		})
	}
}

func TestHandleHelloUsesGreeting(t *testing.T) {
	h, _ := newTestServer("Bonjour")
	if got := serve(h, http.MethodGet, "/monde").Body.String(); got != "Bonjour, monde!" {
		t.Errorf("body = %q", got)
	}
}

func TestHandleHelloHead(t *testing.T) {
	h, _ := newTestServer("Hello")
	rec := serve(h, http.MethodHead, "/world")
	if rec.Code != http.StatusOK {
		t.Fatalf("HEAD status = %d, want 200", rec.Code)
	}
}

func TestHandleHelloRejectsBadNames(t *testing.T) {
	h, _ := newTestServer("Hello")
	tests := []struct {
		name, target, reason string
	}{
		{"invalid UTF-8", "/%ff", "not valid UTF-8"},
		{"truncated UTF-8", "/%E4%B8", "not valid UTF-8"},
		{"NUL", "/a%00b", "control characters"},
		{"newline", "/a%0Ab", "control characters"},
		{"carriage return", "/%0D", "control characters"},
		{"escape", "/%1B%5B31m", "control characters"},
		{"DEL", "/%7F", "control characters"},
		{"C1 control", "/%C2%85", "control characters"},
		{"too long", "/" + strings.Repeat("a", maxNameRunes+1), "longer than 64"},
		{"too long multibyte", "/" + strings.Repeat("é", maxNameRunes+1), "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, http.MethodGet, tt.target)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %q", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.reason) {
				t.Errorf("body = %q, want it to say %q", rec.Body, tt.reason)
			}
		})
	}
}

func TestMethodsOtherThanGetAndHeadGet405(t *testing.T) {
	h, _ := newTestServer("Hello")
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "BREW"} {
		for _, target := range []string{"/", "/world", "/healthz", "/readyz", "/version"} {
			rec := serve(h, method, target)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status = %d, want 405", method, target, rec.Code)
			}
			if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s %s: Allow = %q, want %q", method, target, got, "GET, HEAD")
			}
		}
	}
}

func TestUnknownPathsGet404(t *testing.T) {
	h, _ := newTestServer("Hello")
	for _, target := range []string{"/a/b", "/world/", "/healthz/x"} {
		if rec := serve(h, http.MethodGet, target); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status = %d, want 404", target, rec.Code)
		}
	}
}

// FuzzServerPath sends arbitrary request paths through the full handler.
// Whatever the path, the answer is never a 5xx and never a panic, and a
// greeting is only ever made of a valid, bounded, printable name. The seeds
// run on every `go test`; `go test -fuzz=FuzzServerPath` explores further.
func FuzzServerPath(f *testing.F) {
	for _, seed := range []string{
		"/", "/world", "/healthz", "/readyz", "/version", "/a/b", "//", "/..", "/./x",
		"/%ff", "/%00", "/%0a", "/%0d%0aSet-Cookie:x", "/%c0%af", "/%e2%80%ae", "/%2F",
		"/%", "/%zz", "/a%2Fb", "/" + strings.Repeat("x", 64), "/" + strings.Repeat("x", 65),
		"/" + strings.Repeat("%ff", 100), "*", "http://example.com/x", "/?q=1", "/world#frag",
		"/\x7f", "/\xff", "/ä", "/\u00e9\u0301",
	} {
		f.Add(seed)
	}
	h, _ := newTestServer("Hello")
	f.Fuzz(func(t *testing.T, target string) {
		// Parse the request as the server does; a request line it rejects
		// never reaches the handler (net/http answers 400 itself).
		raw := "GET " + target + " HTTP/1.1\r\nHost: example.com\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %q: status %d", target, rec.Code)
		}
		if rec.Code != http.StatusOK {
			return
		}
		switch req.URL.Path {
		case "/healthz", "/readyz", "/version":
			return
		}
		body := rec.Body.String()
		name, ok := strings.CutPrefix(body, "Hello, ")
		name, ok2 := strings.CutSuffix(name, "!")
		if !ok || !ok2 {
			t.Fatalf("GET %q: 200 with body %q, not a greeting", target, body)
		}
		if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameRunes {
			t.Fatalf("GET %q: greeted an invalid or overlong name %q", target, name)
		}
		if strings.IndexFunc(name, unicode.IsControl) >= 0 {
			t.Fatalf("GET %q: greeted a name with control characters %q", target, name)
		}
	})
}
