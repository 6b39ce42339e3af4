package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

const compliantSummary = "k8s-validate: 6 objects, 0 findings (Kubernetes 1.35 API, Pod Security restricted v1.35)\n"

func TestCLICompliantFileExitsZero(t *testing.T) {
	r := runCLI(t, "", "testdata/compliant.yaml")
	if r.code != 0 || r.stdout != compliantSummary || r.stderr != "" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0, %q, nothing", r.code, r.stdout, r.stderr, compliantSummary)
	}
}

func TestCLIFindingsExitOneWithOneLineEach(t *testing.T) {
	m := replaceOnce(t, compliantManifest(t), "privileged: false", "privileged: true")
	m = replaceOnce(t, m, "imagePullPolicy: IfNotPresent", "imagePullPolice: IfNotPresent")
	r := runCLI(t, m, "-")
	want := `Deployment/sample-web: schema: unknown field "spec.template.spec.containers[0].imagePullPolice"` + "\n" +
		`Deployment/sample-web: pod-security: privileged (container "web" must not set securityContext.privileged=true)` + "\n" +
		"k8s-validate: 6 objects, 2 findings (Kubernetes 1.35 API, Pod Security restricted v1.35)\n"
	if r.code != 1 || r.stdout != want {
		t.Errorf("got exit %d, stdout:\n%s\nwant exit 1, stdout:\n%s", r.code, r.stdout, want)
	}
}

func TestCLIJSON(t *testing.T) {
	m := replaceOnce(t, compliantManifest(t), "    pod-security.kubernetes.io/enforce: restricted\n", "")
	for _, args := range [][]string{{"--json", "-"}, {"-", "--json"}} { // flags before or after the file
		r := runCLI(t, m, args...)
		if r.code != 1 {
			t.Errorf("%q: exit %d, want 1", args, r.code)
		}
		var report struct {
			OK       *bool `json:"ok"`
			Objects  *int  `json:"objects"`
			Findings []struct {
				Object, Check, Message string
			} `json:"findings"`
		}
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&report); err != nil {
			t.Fatalf("%q: stdout is not the JSON report: %v\n%s", args, err, r.stdout)
		}
		if dec.More() {
			t.Errorf("%q: stdout has more than one JSON value", args)
		}
		if report.OK == nil || *report.OK || report.Objects == nil || *report.Objects != 6 || len(report.Findings) != 1 ||
			report.Findings[0].Object != "Namespace/sample-web" || report.Findings[0].Check != "namespace-label" ||
			!strings.Contains(report.Findings[0].Message, "pod-security.kubernetes.io/enforce is missing") {
			t.Errorf("%q: unexpected report %s", args, r.stdout)
		}
		if !strings.HasPrefix(r.stderr, "k8s-validate: 6 objects, 1 findings (") {
			t.Errorf("%q: stderr = %q, want the summary line", args, r.stderr)
		}
	}

	r := runCLI(t, "", "--json", "testdata/compliant.yaml")
	if r.code != 0 || strings.ReplaceAll(strings.ReplaceAll(r.stdout, " ", ""), "\n", "") != `{"ok":true,"objects":6,"findings":[]}` {
		t.Errorf("compliant --json: exit %d, stdout %s; want 0 and an empty findings array (not null)", r.code, r.stdout)
	}
}

func TestCLIPSAVersionFlag(t *testing.T) {
	r := runCLI(t, compliantDocument(t, "Deployment"), "--psa-version", "v1.30", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "Pod Security restricted v1.30)") {
		t.Errorf("--psa-version v1.30: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, compliantDocument(t, "Deployment"), "--psa-version=latest", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "Pod Security restricted v1.35)") {
		t.Errorf("--psa-version latest: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestCLIUsageAndInputErrorsExitTwo(t *testing.T) {
	empty := t.TempDir() + "/empty.yaml"
	if err := os.WriteFile(empty, []byte("# nothing here\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		stdin  string
		args   []string
		stderr string
	}{
		{"no file", "", nil, "want exactly one file"},
		{"two files", "", []string{"testdata/compliant.yaml", "testdata/compliant.yaml"}, "want exactly one file"},
		{"unknown flag", "", []string{"--strict", "testdata/compliant.yaml"}, "flag provided but not defined: -strict"},
		{"repeated flag", "", []string{"--psa-version", "v1.34", "--psa-version", "v1.35", "testdata/compliant.yaml"}, "--psa-version is given twice"},
		{"repeated switch", "", []string{"--json", "--json", "testdata/compliant.yaml"}, "--json is given twice"},
		{"missing file", "", []string{"testdata/no-such-file.yaml"}, "no such file or directory"},
		{"directory", "", []string{"testdata"}, "testdata"},
		{"bad --psa-version", "", []string{"--psa-version", "1.35", "testdata/compliant.yaml"}, `must be "latest" or "v1.x"`},
		{"--psa-version newer than the build", "", []string{"--psa-version", "v1.36", "testdata/compliant.yaml"}, "newer than v1.35"},
		{"empty file", "", []string{empty}, "no Kubernetes objects"},
		{"empty stdin", "", []string{"-"}, "no Kubernetes objects"},
		{"bad document separator", "apiVersion: v1\n--- nope\n", []string{"-"}, "invalid Yaml document separator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.stdin, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, containing %q", r.code, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
}

// run.sh builds bin/k8s-validate when it is missing or older than a source, and otherwise reuses it.
// It runs on a copy of the module, so the real bin/ is left alone.
func TestRunScriptBuildsOnceAndRebuildsWhenStale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	sources, _ := filepath.Glob("*.go")
	for _, f := range append(sources, "go.mod", "go.sum", "run.sh", "testdata/compliant.yaml") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin", "k8s-validate")
	runScript := func(wantCode int, args ...string) string {
		t.Helper()
		cmd := exec.Command("bash", append([]string{filepath.Join(dir, "run.sh")}, args...)...)
		cmd.Dir = t.TempDir() // file arguments are relative to the caller's directory, not the script's
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("run.sh %q: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, out.String(), errOut.String())
		}
		return out.String()
	}
	modTime := func() time.Time {
		t.Helper()
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}

	compliant := filepath.Join(dir, "testdata", "compliant.yaml")
	if out := runScript(0, compliant); out != compliantSummary {
		t.Errorf("first run: stdout %q", out)
	}
	built := modTime()

	// Fresh binary: reused as it is.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(replaceOnce(t, compliantManifest(t), "privileged: false", "privileged: true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runScript(1, "--json", bad); !strings.Contains(out, `"check": "pod-security"`) {
		t.Errorf("run.sh --json bad.yaml: stdout %s", out)
	}
	runScript(2, compliant+"-missing")
	if !modTime().Equal(built) {
		t.Error("run.sh rebuilt a binary that was newer than every source")
	}

	// A source newer than the binary: rebuilt. Times are set explicitly, so the test does not
	// depend on the clock's resolution.
	old := built.Add(-time.Hour)
	if err := os.Chtimes(bin, old, old); err != nil {
		t.Fatal(err)
	}
	if out := runScript(0, compliant); out != compliantSummary {
		t.Errorf("after rebuild: stdout %q", out)
	}
	if !modTime().After(old) {
		t.Error("run.sh did not rebuild a binary older than its sources")
	}
}
