package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(envFrom(nil))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	want := config{
		Port:              8080,
		ProbePort:         8081,
		Greeting:          "Hello",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       75 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		DrainDelay:        5 * time.Second,
		MaxConnections:    defaultMaxConnections,
	}
	if cfg != want {
		t.Errorf("defaults = %+v\nwant       %+v", cfg, want)
	}
	if cfg.tlsEnabled() {
		t.Error("TLS enabled without a certificate")
	}
}

func TestLoadConfigReadsEveryVariable(t *testing.T) {
	cfg, err := loadConfig(envFrom(map[string]string{
		"HOST":                "127.0.0.1",
		"PORT":                "9090",
		"PROBE_PORT":          "9091",
		"HELLO":               "Hola",
		"READ_HEADER_TIMEOUT": "2s",
		"READ_TIMEOUT":        "3s",
		"WRITE_TIMEOUT":       "4s",
		"IDLE_TIMEOUT":        "90s",
		"SHUTDOWN_TIMEOUT":    "20s",
		"DRAIN_DELAY":         "0s",
		"TLS_CERT_FILE":       "/tls/tls.crt",
		"TLS_KEY_FILE":        "/tls/tls.key",
		"MAX_CONNECTIONS":     "500",
	}))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	want := config{
		Host: "127.0.0.1", Port: 9090, ProbePort: 9091, Greeting: "Hola",
		ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second,
		IdleTimeout: 90 * time.Second, ShutdownTimeout: 20 * time.Second, DrainDelay: 0,
		TLSCertFile: "/tls/tls.crt", TLSKeyFile: "/tls/tls.key",
		MaxConnections: 500,
	}
	if cfg != want {
		t.Errorf("config = %+v\nwant     %+v", cfg, want)
	}
	if !cfg.tlsEnabled() {
		t.Error("TLS not enabled with certificate and key")
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PORT": "abc"}, `config: PORT: must be 1-65535 (or 0 for any free port), got "abc"`},
		{map[string]string{"PORT": "65536"}, `config: PORT: must be 1-65535`},
		{map[string]string{"PORT": "-1"}, `config: PORT: must be 1-65535`},
		{map[string]string{"PROBE_PORT": "http"}, `config: PROBE_PORT: must be 1-65535 (or 0 for any free port), got "http"`},
		{map[string]string{"PROBE_PORT": "65536"}, `config: PROBE_PORT: must be 1-65535`},
		// One port for both would put the probes back behind the public
		// listener's connection cap.
		{map[string]string{"PROBE_PORT": "8080"}, `config: PROBE_PORT: must differ from PORT (both are 8080)`},
		{map[string]string{"PORT": "8081"}, `config: PROBE_PORT: must differ from PORT (both are 8081)`},
		{map[string]string{"HOST": "example.com"}, `config: HOST: must be an IP address`},
		{map[string]string{"HELLO": "Hi\nthere"}, `config: HELLO: contains control characters`},
		{map[string]string{"HELLO": "\xff"}, `config: HELLO: not valid UTF-8`},
		{map[string]string{"HELLO": strings.Repeat("a", 65)}, `config: HELLO: longer than 64`},
		{map[string]string{"READ_HEADER_TIMEOUT": "6s"}, `config: READ_HEADER_TIMEOUT: must be from 1s to 5s, got "6s"`},
		{map[string]string{"READ_HEADER_TIMEOUT": "0s"}, `config: READ_HEADER_TIMEOUT: must be from 1s to 5s, got "0s"`},
		{map[string]string{"READ_TIMEOUT": "5"}, `config: READ_TIMEOUT: must be a Go duration such as "5s" or "750ms", got "5"`},
		{map[string]string{"WRITE_TIMEOUT": "0"}, `config: WRITE_TIMEOUT: must be from 1s to 5m0s, got "0"`},
		{map[string]string{"IDLE_TIMEOUT": "-1s"}, `config: IDLE_TIMEOUT: must be from 1s to 1h0m0s, got "-1s"`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, `config: SHUTDOWN_TIMEOUT: must be a Go duration`},
		{map[string]string{"DRAIN_DELAY": "-5s"}, `config: DRAIN_DELAY: must be from 0s to 5m0s, got "-5s"`},
		// Absurd values that parse: each made every request fail or a
		// connection live for days.
		{map[string]string{"WRITE_TIMEOUT": "1ns"}, `config: WRITE_TIMEOUT: must be from 1s to 5m0s, got "1ns"`},
		{map[string]string{"READ_TIMEOUT": "5ms"}, `config: READ_TIMEOUT: must be from 1s to 5m0s, got "5ms"`},
		{map[string]string{"READ_HEADER_TIMEOUT": "1us"}, `config: READ_HEADER_TIMEOUT: must be from 1s to 5s, got "1us"`},
		{map[string]string{"IDLE_TIMEOUT": "1ns"}, `config: IDLE_TIMEOUT: must be from 1s to 1h0m0s, got "1ns"`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "1ns"}, `config: SHUTDOWN_TIMEOUT: must be from 1s to 5m0s, got "1ns"`},
		{map[string]string{"WRITE_TIMEOUT": "1000h"}, `config: WRITE_TIMEOUT: must be from 1s to 5m0s, got "1000h"`},
		{map[string]string{"READ_TIMEOUT": "2562047h"}, `config: READ_TIMEOUT: must be from 1s to 5m0s, got "2562047h"`},
		{map[string]string{"IDLE_TIMEOUT": "2h"}, `config: IDLE_TIMEOUT: must be from 1s to 1h0m0s, got "2h"`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "1h"}, `config: SHUTDOWN_TIMEOUT: must be from 1s to 5m0s, got "1h"`},
		{map[string]string{"DRAIN_DELAY": "24h"}, `config: DRAIN_DELAY: must be from 0s to 5m0s, got "24h"`},
		{map[string]string{"MAX_CONNECTIONS": "0"}, `config: MAX_CONNECTIONS: must be a whole number from 16 to 1000000, got "0"`},
		{map[string]string{"MAX_CONNECTIONS": "15"}, `config: MAX_CONNECTIONS: must be a whole number from 16 to 1000000, got "15"`},
		{map[string]string{"MAX_CONNECTIONS": "1000001"}, `config: MAX_CONNECTIONS: must be a whole number from 16`},
		{map[string]string{"MAX_CONNECTIONS": "many"}, `config: MAX_CONNECTIONS: must be a whole number from 16`},
		{map[string]string{"TLS_CERT_FILE": "/tls/tls.crt"}, `config: TLS_CERT_FILE/TLS_KEY_FILE: set both`},
		{map[string]string{"TLS_KEY_FILE": "/tls/tls.key"}, `config: TLS_CERT_FILE/TLS_KEY_FILE: set both`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := loadConfig(envFrom(tt.env))
			if err == nil {
				t.Fatalf("loadConfig(%v) succeeded, want error %q", tt.env, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(envFrom(map[string]string{"PORT": "x", "DRAIN_DELAY": "y", "HELLO": "\x00"}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"PORT", "DRAIN_DELAY", "HELLO"} {
		if !strings.Contains(err.Error(), "config: "+name+":") {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestLoadConfigAcceptsBoundaryValues(t *testing.T) {
	cfg, err := loadConfig(envFrom(map[string]string{
		"PORT": "0", "PROBE_PORT": "0", "READ_HEADER_TIMEOUT": "5s", "HOST": "::1", "HELLO": strings.Repeat("h", 64),
		"READ_TIMEOUT": "1s", "WRITE_TIMEOUT": "5m", "IDLE_TIMEOUT": "1h", "SHUTDOWN_TIMEOUT": "5m", "DRAIN_DELAY": "0s",
		"MAX_CONNECTIONS": "16",
	}))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if cfg.Port != 0 || cfg.ProbePort != 0 || cfg.ReadHeaderTimeout != 5*time.Second || cfg.Host != "::1" || cfg.ReadTimeout != time.Second ||
		cfg.WriteTimeout != 5*time.Minute || cfg.IdleTimeout != time.Hour || cfg.ShutdownTimeout != 5*time.Minute || cfg.MaxConnections != 16 {
		t.Errorf("config = %+v", cfg)
	}
}

// The greeting rule is shared with the config validator
// (lib/config/limits.ts): both run testdata/greeting-rule.json, so a
// greeting the config accepts is one the service starts with, and back.
func TestGreetingRuleSharedWithTheConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "greeting-rule.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		MaxCharacters int `json:"maxCharacters"`
		Cases         []struct {
			Text  string `json:"text"`
			Valid bool   `json:"valid"`
			Why   string `json:"why"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &rule); err != nil {
		t.Fatalf("testdata/greeting-rule.json: %v", err)
	}
	if rule.MaxCharacters != maxGreetingRunes {
		t.Errorf("maxGreetingRunes = %d, the shared rule says %d", maxGreetingRunes, rule.MaxCharacters)
	}
	if len(rule.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range rule.Cases {
		t.Run(c.Why, func(t *testing.T) {
			_, err := loadConfig(envFrom(map[string]string{"HELLO": c.Text}))
			if c.Valid && err != nil {
				t.Errorf("HELLO=%q refused: %v", c.Text, err)
			}
			if !c.Valid && (err == nil || !strings.Contains(err.Error(), "config: HELLO:")) {
				t.Errorf("HELLO=%q: error %v, want one naming HELLO", c.Text, err)
			}
		})
	}
}

// Whatever a duration or MAX_CONNECTIONS variable holds, loadConfig never
// panics, and a value it accepts is inside the variable's range.
func FuzzLoadConfigBounds(f *testing.F) {
	for _, seed := range []string{"1ns", "1s", "5s", "5m", "1h", "1000h", "-1s", "0", "1e9", "9223372036854775807ns", "2562048h", "16", "1000001", "-16", "0x10", " 5s", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		names := []string{"READ_HEADER_TIMEOUT", "READ_TIMEOUT", "WRITE_TIMEOUT", "IDLE_TIMEOUT", "SHUTDOWN_TIMEOUT", "DRAIN_DELAY", "MAX_CONNECTIONS"}
		for _, name := range names {
			cfg, err := loadConfig(envFrom(map[string]string{name: v}))
			if err != nil {
				if !strings.Contains(err.Error(), "config: "+name+":") {
					t.Errorf("%s=%q: error %q does not name the variable", name, v, err)
				}
				continue
			}
			ok := cfg.ReadHeaderTimeout >= minTimeout && cfg.ReadHeaderTimeout <= maxReadHeaderTimeout &&
				cfg.ReadTimeout >= minTimeout && cfg.ReadTimeout <= maxRequestTimeout &&
				cfg.WriteTimeout >= minTimeout && cfg.WriteTimeout <= maxRequestTimeout &&
				cfg.IdleTimeout >= minTimeout && cfg.IdleTimeout <= maxIdleTimeout &&
				cfg.ShutdownTimeout >= minTimeout && cfg.ShutdownTimeout <= maxStopTimeout &&
				cfg.DrainDelay >= 0 && cfg.DrainDelay <= maxStopTimeout &&
				cfg.MaxConnections >= minMaxConnections && cfg.MaxConnections <= maxMaxConnections
			if !ok {
				t.Errorf("%s=%q accepted, giving a value out of range: %+v", name, v, cfg)
			}
		}
	})
}
