package rules

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleDir is app/, the Docker build context, from tools/dev/dockerfile-rules/.
const moduleDir = "../../../app"

const (
	testVersion = "v9.9.9-test"
	testCommit  = "c0ffee1"
	waitLong    = 15 * time.Second
)

// buildLikeTheImage builds app/ with the go build line taken from the
// Dockerfile itself, as `docker build --build-arg VERSION=... --build-arg
// COMMIT=...` would, for this machine's OS and architecture.
func buildLikeTheImage(t *testing.T) string {
	t.Helper()
	d, err := Parse(readDockerfile(t))
	if err != nil {
		t.Fatal(err)
	}
	build, err := d.FindGoBuild(map[string]string{
		"VERSION": testVersion, "COMMIT": testCommit, "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH,
	})
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "service")
	args := append([]string(nil), build.Args...)
	replaced := false
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = bin
			replaced = true
		}
	}
	if !replaced {
		t.Fatalf("go build line %q has no -o PATH", build.Args)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = moduleDir
	// The image build sees no .git (see .dockerignore), so it stamps no VCS
	// information; do the same here.
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-buildvcs=false"), build.EnvList()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

func TestImageBinaryBuildsAndServes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := buildLikeTheImage(t)

	t.Run("static and trimmed", func(t *testing.T) {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
			t.Errorf("build settings = %v, want CGO_ENABLED=0 and -trimpath=true", settings)
		}
		if runtime.GOOS != "linux" {
			return
		}
		// A static binary has no program interpreter (dynamic loader) and
		// needs no shared library: it can run on scratch.
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("binary is dynamically linked (has PT_INTERP); it would not run on scratch")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("binary needs shared libraries %v", libs)
		}
	})

	t.Run("serves the stamped version", func(t *testing.T) {
		// PROBE_PORT=0 too: the default (8081) may be taken on this machine.
		cmd, addr, out := startBinary(t, bin, "PORT=0", "PROBE_PORT=0", "HOST=127.0.0.1", "DRAIN_DELAY=100ms")
		client := &http.Client{Timeout: waitLong}

		var got map[string]string
		body := httpGet(t, client, "http://"+addr+"/version")
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("/version body %q: %v", body, err)
		}
		// The pipeline's smoke test compares exactly this field to the tag.
		if got["version"] != testVersion || got["commit"] != testCommit {
			t.Errorf("/version = %v, want version %s commit %s", got, testVersion, testCommit)
		}
		if body := httpGet(t, client, "http://"+addr+"/world"); body != "Hello, world!" {
			t.Errorf("/world = %q", body)
		}
		// The kubelet's probes go to the probe listener (lib/manifests/workload.ts).
		var listening struct {
			ProbeAddr string `json:"probe_addr"`
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, `"msg":"listening"`) {
				_ = json.Unmarshal([]byte(line), &listening)
			}
		}
		if listening.ProbeAddr == "" {
			t.Errorf("listening line has no probe_addr:\n%s", out)
		} else {
			for _, path := range []string{"/healthz", "/readyz"} {
				if body := httpGet(t, client, "http://"+listening.ProbeAddr+path); body != "ok\n" {
					t.Errorf("probe listener %s = %q, want ok", path, body)
				}
			}
		}

		// SIGTERM, as Kubernetes sends it: a clean exit, status 0.
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitExit(t, cmd, 0)
		// The process has exited, but the lines it wrote may still be on their way through the
		// pipe: read to the end before looking at them.
		logged := out.readAll(t)
		if !strings.Contains(logged, `"msg":"stopped"`) {
			t.Errorf("no stopped log line after SIGTERM:\n%s", logged)
		}
	})

	t.Run("bad config exits non-zero naming the variable", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=abc"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit = %v, want status 1", err)
		}
		if !strings.Contains(stderr.String(), `config: PORT: must be 1-65535`) {
			t.Errorf("stderr = %q, want it to name PORT", stderr.String())
		}
	})
}

// The regression behind a flaky run (issue 17): the process had exited and logged its last line,
// but the test read its output before the copy out of the pipe had finished. A process that
// writes many lines right before it exits makes that window wide; readAll must still see the last.
func TestProcessOutputIsReadToTheEnd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses /bin/sh")
	}
	t.Parallel()
	script := `echo '{"msg":"listening","addr":"127.0.0.1:1"}'; ` +
		`i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done; echo '{"msg":"stopped"}'`
	for round := 0; round < 5; round++ {
		cmd, _, out := startProcess(t, []string{"/bin/sh", "-c", script})
		waitExit(t, cmd, 0)
		if got := out.readAll(t); !strings.HasSuffix(got, "{\"msg\":\"stopped\"}\n") {
			t.Fatalf("round %d: the last line is missing; output ends %q", round, got[max(0, len(got)-80):])
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while another goroutine writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// processOutput is what a started binary writes to stdout, copied line by line.
type processOutput struct {
	lines  syncBuffer
	writer *io.PipeWriter
	done   chan struct{} // closed when the copy has read everything the process wrote
}

// readAll returns everything the process wrote. Call it after the process has exited
// (cmd.Wait returned, so every byte has entered the pipe): it closes the pipe's write end and
// waits until the copy has read to the end, rather than for some length of time.
func (o *processOutput) readAll(t *testing.T) string {
	t.Helper()
	o.writer.Close()
	select {
	case <-o.done:
	case <-time.After(waitLong):
		t.Fatalf("output not fully read within %s after the process exited", waitLong)
	}
	return o.lines.String()
}

func (o *processOutput) String() string { return o.lines.String() }

// startBinary runs bin with env and returns once it logs its address.
func startBinary(t *testing.T, bin string, env ...string) (*exec.Cmd, string, *processOutput) {
	t.Helper()
	return startProcess(t, []string{bin}, env...)
}

// startProcess runs argv with env and returns once it logs a "listening" line with its address.
func startProcess(t *testing.T, argv []string, env ...string) (*exec.Cmd, string, *processOutput) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		pw.Close()
	})
	stdout := &processOutput{writer: pw, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		defer close(stdout.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = stdout.lines.Write([]byte(line + "\n"))
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				select {
				case addrCh <- entry.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case addr := <-addrCh:
		return cmd, addr, stdout
	case <-time.After(waitLong):
		t.Fatalf("binary logged no listening line within %s:\n%s", waitLong, stdout)
		return nil, "", nil
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd, want int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("wait: %v", err)
		}
		if code != want {
			t.Errorf("exit status %d, want %d", code, want)
		}
	case <-time.After(waitLong):
		t.Fatalf("process did not exit within %s", waitLong)
	}
}

func httpGet(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %q", url, resp.StatusCode, b)
	}
	return string(b)
}
