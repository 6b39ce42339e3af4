package main

import (
	"encoding/json"
	"net/http"
)

// buildInfo is what the binary was built from, stamped with -ldflags -X.
//
// The JSON field "version" is a contract: the delivery pipeline's smoke
// test requires it to equal the image tag. Do not rename it.
type buildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// handleVersion answers the build's version and commit as JSON.
func handleVersion(build buildInfo) http.Handler {
	body, err := json.Marshal(build)
	if err != nil {
		// Two strings always marshal; reaching this is a programming error.
		panic("version: " + err.Error())
	}
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}
