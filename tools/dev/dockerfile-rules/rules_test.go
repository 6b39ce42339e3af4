package rules

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Dockerfile under test: app/Dockerfile, from tools/dev/dockerfile-rules/.
const dockerfilePath = "../../../app/Dockerfile"

func readDockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rulesOf(vs []Violation) []string {
	var rules []string
	for _, v := range vs {
		rules = append(rules, v.Rule)
	}
	return rules
}

func TestRealDockerfileKeepsEveryRule(t *testing.T) {
	vs, err := Check(readDockerfile(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
}

func TestRealDockerfileShape(t *testing.T) {
	d, err := Parse(readDockerfile(t))
	if err != nil {
		t.Fatal(err)
	}
	stages := d.Stages
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	// A minimal base Amazon Inspector supports (Amazon Linux 2023), not scratch: see
	// docs/decisions/0009-inspector-scannable-base-image.md.
	const minimalBase = AllowedRegistry + "eks-distro-build-tooling/eks-distro-minimal-base-nonroot:"
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.BaseName, minimalBase) || !strings.HasSuffix(final.BaseName, ".2023") {
		t.Errorf("final stage is %s, want %s<dated build>.2023", final.BaseName, minimalBase)
	}
	for _, cmd := range final.Commands {
		if kw := strings.ToUpper(cmd.Name()); kw != "COPY" && kw != "USER" && kw != "EXPOSE" && kw != "ENTRYPOINT" {
			t.Errorf("line %d: %s in the final stage; it holds only the binary and its metadata", lineOf(cmd.Location()), kw)
		}
	}
}

// Each case breaks one rule of the real Dockerfile; the checker must catch
// exactly that rule. The replaced text must exist, so that a change to the
// Dockerfile cannot quietly turn a case into a no-op.
func TestCheckCatchesEachBrokenRule(t *testing.T) {
	good := readDockerfile(t)
	// The binary's path is the service's own: taken from the Dockerfile, not written here.
	entrypoint := regexp.MustCompile(`(?m)^ENTRYPOINT \["(/[^"]+)"\]$`).FindStringSubmatch(good)
	copyBinary := regexp.MustCompile(`(?m)^COPY --from=build \S+ \S+\n`).FindString(good)
	if entrypoint == nil || copyBinary == "" {
		t.Fatal("the Dockerfile has no exec-form ENTRYPOINT or no COPY --from=build of the binary; update this test")
	}
	binary := entrypoint[1]
	const golang = "public.ecr.aws/docker/library/golang:1.26.8-bookworm"
	const finalBase = "public.ecr.aws/eks-distro-build-tooling/eks-distro-minimal-base-nonroot:2026-08-14-1786723447.2023"
	tests := []struct {
		name, old, new, rule string
	}{
		{"latest tag", golang, "public.ecr.aws/docker/library/golang:latest", RuleFromPinned},
		{"no tag", golang, "public.ecr.aws/docker/library/golang", RuleFromPinned},
		{"minor-only tag", golang, "public.ecr.aws/docker/library/golang:1.26-bookworm", RuleFromPinned},
		{"distro-only tag", golang, "public.ecr.aws/docker/library/golang:bookworm", RuleFromPinned},
		{"Docker Hub", golang, "golang:1.26.8-bookworm", RuleFromRegistry},
		{"Docker Hub explicit", golang, "docker.io/library/golang:1.26.8-bookworm", RuleFromRegistry},
		{"final base unpinned", finalBase, "public.ecr.aws/eks-distro-build-tooling/eks-distro-minimal-base-nonroot:latest.2023", RuleFromPinned},
		{"final base by date only", finalBase, "public.ecr.aws/eks-distro-build-tooling/eks-distro-minimal-base-nonroot:2026-08-14", RuleFromPinned},
		{"final base off public ECR", finalBase, "gcr.io/distroless/static-debian12:1.0.0", RuleFromRegistry},
		{"final base scratch", "FROM " + finalBase, "FROM scratch", RuleFinalScannable},
		{"RUN in the final stage", copyBinary, copyBinary + "RUN chmod 0555 " + binary + "\n", RuleFinalNoRun},
		{"USER root name", "USER 65532:65532", "USER root", RuleUserNonRoot},
		{"USER 0", "USER 65532:65532", "USER 0", RuleUserNonRoot},
		{"USER group 0", "USER 65532:65532", "USER 65532:0", RuleUserNonRoot},
		{"USER by name", "USER 65532:65532", "USER nonroot:nonroot", RuleUserNonRoot},
		{"no USER", "USER 65532:65532\n", "", RuleUserNonRoot},
		{"other port", "EXPOSE 8080", "EXPOSE 80", RuleExpose8080},
		{"shell-form ENTRYPOINT", entrypoint[0], "ENTRYPOINT " + binary, RuleEntrypointExec},
		{"cgo on", "CGO_ENABLED=0 ", "CGO_ENABLED=1 ", RuleBuildCGO},
		{"cgo unset", "CGO_ENABLED=0 ", "", RuleBuildCGO},
		{"no -trimpath", "-trimpath ", "", RuleBuildTrimpath},
		{"version not stamped", "-X main.version=${VERSION} ", "", RuleBuildStamp},
		{"commit hard-coded", "-X main.commit=${COMMIT}", "-X main.commit=abc", RuleBuildStamp},
		{"no go build", "    go build -trimpath", "    go install -trimpath", RuleBuildFound},
		{"go build in a second RUN", "COPY . .\n", "COPY . .\nRUN go build -o /x .\n", RuleBuildFound},
		{"go build in exec form", "RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \\\n", `RUN ["go", "build", "."]` + "\n" + "RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \\\n", RuleBuildFound},
		{"undeclared build arg", "ARG COMMIT=unknown\n", "", RuleBuildFound},
		// BuildKit's own checks: `as` in another case than FROM (FromAsCasing).
		{"AS in lower case", " AS build", " as build", RuleBuildKitLint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("Dockerfile no longer contains %q; update this case", tt.old)
			}
			vs, err := Check(strings.Replace(good, tt.old, tt.new, 1))
			if err != nil {
				t.Fatal(err)
			}
			if rules := rulesOf(vs); !slices.Equal(rules, []string{tt.rule}) {
				t.Errorf("violations = %v, want exactly [%s]", vs, tt.rule)
			}
		})
	}
}

func TestCheckAcceptsDigestsAndStageNames(t *testing.T) {
	src := `FROM public.ecr.aws/docker/library/golang@sha256:0123456789abcdef AS build
ARG VERSION
ARG COMMIT
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-X main.version=$VERSION -X main.commit=$COMMIT" -o /x .
FROM build AS test
FROM public.ecr.aws/distroless/static-debian12:1.2.3
USER 65532
EXPOSE 8080/tcp
ENTRYPOINT ["/x"]
`
	vs, err := Check(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Errorf("violations = %v, want none", vs)
	}
}

// What `docker build` refuses, the rules refuse to read. (A continuation at the end of the file
// is not among them: BuildKit accepts it, so the rules do too.)
func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"", "# only a comment\n", "RUN echo hi\nFROM scratch\n", "FROM a b c d\n",
		"FROM scratch\nFROBNICATE x\n", "FROM scratch\nUSER\n", "FROM scratch AS 1st\n",
	} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", src)
		}
	}
}

func TestFindGoBuildExpandsBuildArgs(t *testing.T) {
	d, err := Parse(readDockerfile(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.FindGoBuild(map[string]string{"VERSION": "v1.2.3", "COMMIT": "abc", "TARGETOS": "linux", "TARGETARCH": "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Env["CGO_ENABLED"] != "0" || b.Env["GOOS"] != "linux" || b.Env["GOARCH"] != "arm64" {
		t.Errorf("env = %v", b.Env)
	}
	if got := b.Flag("-ldflags"); got != "-s -w -X main.version=v1.2.3 -X main.commit=abc" {
		t.Errorf("-ldflags = %q", got)
	}
	if b.Args[0] != "build" || b.Flag("-o") == "" {
		t.Errorf("args = %q, want build ... -o PATH", b.Args)
	}

	// Without build args, the ARG defaults apply.
	b, err = d.FindGoBuild(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Flag("-ldflags"); !strings.Contains(got, "main.version=dev") || !strings.Contains(got, "main.commit=unknown") {
		t.Errorf("-ldflags with defaults = %q", got)
	}
}

func TestFindGoBuildRejectsUndeclaredVariables(t *testing.T) {
	d, err := Parse("FROM scratch\nRUN go build -ldflags \"-X main.version=${VERSION}\" .\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.FindGoBuild(map[string]string{"VERSION": "x"}); err == nil || !strings.Contains(err.Error(), "VERSION") {
		t.Errorf("err = %v, want one naming the undeclared VERSION", err)
	}
}

// The go build line is split as sh would split it, by BuildKit's shell lexer.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"V": "1.0", "E": ""}
	tests := []struct {
		in   string
		want []string
	}{
		{`a b  c`, []string{"a", "b", "c"}},
		{`-ldflags "-s -w -X main.v=${V}"`, []string{"-ldflags", "-s -w -X main.v=1.0"}},
		{`-ldflags='-X a=$V'`, []string{"-ldflags=-X a=$V"}},
		{`x=$V y=${E} z`, []string{"x=1.0", "y=", "z"}},
		{`"a\"b" a\ b`, []string{`a"b`, "a b"}},
		{`a && b ; c`, []string{"a", "&&", "b", ";", "c"}},
		{`${V:-x} ${E:-x}`, []string{"1.0", "x"}}, // sh's defaults, as BuildKit reads them
		{`cost $`, []string{"cost", "$"}},         // a lone $ is literal in sh too
	}
	for _, tt := range tests {
		got, err := shellWords(tt.in, vars)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// Unreadable, run by sh but not by the lexer (command substitution), or an undeclared variable.
	for _, bad := range []string{`"open`, `'open`, `$(date)`, "`date`", `$UNSET`, `${UNSET:-x}`, `${V`} {
		if got, err := shellWords(bad, vars); err == nil {
			t.Errorf("shellWords(%q) = %q, want an error", bad, got)
		}
	}
}
