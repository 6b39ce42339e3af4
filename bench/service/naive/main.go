// Command naive is the seed's service, kept as the benchmark's baseline:
// the same one-line handler on http.ListenAndServe, with no timeouts, no
// probes and no logging. Do not deploy it.
//
// The only change from the seed: the listen address may be given as the
// first argument (default ":8080"), so the benchmark can put it on a free
// loopback port.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path[1:]
		fmt.Fprintf(w, "%s, %s!", os.Getenv("HELLO"), path)
	})
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	log.Fatal(http.ListenAndServe(addr, nil))
}
