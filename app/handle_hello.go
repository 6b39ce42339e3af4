package main

import (
	"io"
	"net/http"
)

// maxNameRunes is the longest name greeted, in characters (runes, not
// bytes). Longer names get 400: a greeting is no place for an essay, and
// the bound keeps responses and log lines small.
const maxNameRunes = 64

// handleHello answers "<greeting>, <name>!" for GET /{name}, and greets
// "world" for GET /. The seed service's behaviour, minus its failure modes:
// a name that is not valid UTF-8, holds control characters (encoded, such
// as %00 or %0A) or is longer than maxNameRunes gets 400 with a reason that
// does not echo the input.
func handleHello(greeting string) http.Handler {
	prefix := greeting + ", "
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if name == "" {
			name = "world"
		}
		if err := checkText(name, maxNameRunes); err != nil {
			http.Error(w, "invalid name: "+err.Error(), http.StatusBadRequest)
			return
		}
		h := w.Header()
		// Shared slices, set directly rather than with Header.Set: the
		// keys are already canonical, and this saves two allocations per
		// request. Nothing in net/http writes into a header's slice.
		h["Content-Type"] = textPlainUTF8
		// The name is the client's own text; stop browsers from sniffing
		// it into HTML.
		h["X-Content-Type-Options"] = noSniff
		_, _ = io.WriteString(w, prefix+name+"!")
	})
}

var (
	textPlainUTF8 = []string{"text/plain; charset=utf-8"}
	noSniff       = []string{"nosniff"}
)
