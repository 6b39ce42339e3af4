// Package rules checks app/Dockerfile against the image rules the service is
// delivered by. No Docker engine runs where the tests do, so this is how the
// image's promises are kept: pinned public ECR bases, a numeric non-root
// user, port 8080, no shell in the final stage, and a static, trimmed,
// version-stamped build.
//
// The Dockerfile is read by BuildKit's own parser (parse.go); this file holds
// only the project's rules. Anything the parser cannot read is an error,
// never a silent pass.
package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Violation is one broken rule.
type Violation struct {
	Rule    string // a stable id, e.g. "from-pinned"
	Line    int
	Message string
}

func (v Violation) String() string { return fmt.Sprintf("line %d: %s: %s", v.Line, v.Rule, v.Message) }

// Rule ids.
const (
	RuleFromRegistry   = "from-registry"   // bases come from public ECR
	RuleFromPinned     = "from-pinned"     // bases carry an exact version tag or digest
	RuleUserNonRoot    = "user-non-root"   // final stage runs as numeric non-zero uid:gid
	RuleExpose8080     = "expose-8080"     // final stage exposes 8080
	RuleEntrypointExec = "entrypoint-exec" // final stage ENTRYPOINT in exec (JSON) form
	RuleBuildCGO       = "build-cgo"       // go build with CGO_ENABLED=0
	RuleBuildTrimpath  = "build-trimpath"  // go build with -trimpath
	RuleBuildStamp     = "build-stamp"     // -X main.version=${VERSION} -X main.commit=${COMMIT}
	RuleBuildFound     = "build-found"     // exactly one readable RUN ... go build
	RuleFinalScannable = "final-scannable" // final stage on a base the image scanner supports
	RuleFinalNoRun     = "final-no-run"    // no RUN in the final stage: its base has no shell
	RuleBuildKitLint   = "buildkit-lint"   // a warning of BuildKit's parse-time checks
)

// AllowedRegistry is where every base image must come from.
const AllowedRegistry = "public.ecr.aws/"

// exactVersion accepts tags that name one release: 1.26.8, 1.26.8-bookworm,
// v1.2.3. "1.26", "bookworm" or "latest" could move under us.
var exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-.+_][0-9A-Za-z.-]+)?$`)

// datedBuild accepts EKS Distro's base-image tags, one per daily build:
// <date>-<epoch seconds>.<Amazon Linux version>, e.g. 2026-08-14-1786723447.2023
// (aws/eks-distro-build-tooling, EKS_DISTRO_TAG_FILE.yaml). "latest.2023"
// or a date alone could move under us.
var datedBuild = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{9,}\.[0-9]+$`)

// Check parses a Dockerfile and returns every rule it breaks. An error means
// it could not be read at all.
func Check(src string) ([]Violation, error) {
	d, err := Parse(src)
	if err != nil {
		return nil, err
	}
	vs := slices.Clone(d.Warnings)
	add := func(rule string, line int, format string, args ...any) {
		vs = append(vs, Violation{Rule: rule, Line: line, Message: fmt.Sprintf(format, args...)})
	}

	var names []string
	for _, s := range d.Stages {
		vs = append(vs, checkBase(s, names)...)
		if s.Name != "" {
			names = append(names, strings.ToLower(s.Name))
		}
	}

	final := d.Stages[len(d.Stages)-1]
	fromLine := lineOf(final.Location)
	if final.BaseName == "scratch" {
		// Amazon Inspector (ECR enhanced scanning) reports such images as
		// UNSUPPORTED_IMAGE, and the image gate cannot pass them
		// (aws/containers-roadmap#2301).
		add(RuleFinalScannable, fromLine, "final stage is FROM scratch, which Amazon Inspector cannot scan (UNSUPPORTED_IMAGE); use a minimal base of a supported OS")
	}
	exposes := false
	var user *instructions.UserCommand
	var entrypoint *instructions.EntrypointCommand
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.RunCommand:
			add(RuleFinalNoRun, lineOf(c.Location()), "RUN in the final stage needs a shell in the image; build in an earlier stage and COPY the result")
		case *instructions.UserCommand:
			user = c
		case *instructions.EntrypointCommand:
			entrypoint = c
		case *instructions.ExposeCommand:
			if slices.ContainsFunc(c.Ports, func(p string) bool { return p == "8080" || p == "8080/tcp" }) {
				exposes = true
			}
		}
	}
	if user == nil {
		add(RuleUserNonRoot, fromLine, "final stage has no USER: it would run as root")
	} else if !numericNonRoot(user.User) {
		add(RuleUserNonRoot, lineOf(user.Location()), "USER %q must be numeric uid:gid, neither 0 (e.g. 65532:65532)", user.User)
	}
	if !exposes {
		add(RuleExpose8080, fromLine, "final stage does not EXPOSE 8080")
	}
	if entrypoint == nil {
		add(RuleEntrypointExec, fromLine, "final stage has no ENTRYPOINT")
	} else if entrypoint.PrependShell || len(entrypoint.CmdLine) == 0 {
		add(RuleEntrypointExec, lineOf(entrypoint.Location()), "%s must be exec form, e.g. ENTRYPOINT [\"/server\"]: shell form needs a shell and hides SIGTERM", entrypoint)
	}

	// Expand the build line with markers in place of the build args, so the
	// check sees where each one lands.
	const versionMark, commitMark = "@VERSION@", "@COMMIT@"
	build, err := d.FindGoBuild(map[string]string{
		"VERSION": versionMark, "COMMIT": commitMark, "TARGETOS": "linux", "TARGETARCH": "amd64",
	})
	if err != nil {
		add(RuleBuildFound, 0, "%v", err)
		return vs, nil
	}
	if build.Env["CGO_ENABLED"] != "0" {
		add(RuleBuildCGO, build.Line, "go build must run with CGO_ENABLED=0 for a static binary")
	}
	if !slices.Contains(build.Args, "-trimpath") {
		add(RuleBuildTrimpath, build.Line, "go build must use -trimpath")
	}
	ldflags := build.Flag("-ldflags")
	for _, want := range []string{"-X main.version=" + versionMark, "-X main.commit=" + commitMark} {
		if !strings.Contains(ldflags, want) {
			add(RuleBuildStamp, build.Line, "-ldflags %q lacks %q", ldflags, want)
		}
	}
	return vs, nil
}

func checkBase(s instructions.Stage, earlier []string) []Violation {
	image := s.BaseName
	line := lineOf(s.Location)
	if image == "scratch" || slices.Contains(earlier, strings.ToLower(image)) {
		return nil
	}
	var vs []Violation
	if !strings.HasPrefix(image, AllowedRegistry) {
		vs = append(vs, Violation{RuleFromRegistry, line, fmt.Sprintf("%s is not from %s", image, AllowedRegistry)})
	}
	if strings.Contains(image, "@sha256:") {
		return vs
	}
	// The tag follows the last colon after the last slash (a colon before
	// it would be a registry port).
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, hasTag := strings.Cut(name, ":")
	switch {
	case !hasTag:
		vs = append(vs, Violation{RuleFromPinned, line, fmt.Sprintf("%s has no tag: that means latest", image)})
	case !exactVersion.MatchString(tag) && !datedBuild.MatchString(tag):
		vs = append(vs, Violation{RuleFromPinned, line, fmt.Sprintf("%s: tag %q is not an exact version such as 1.26.8-bookworm or one dated build such as 2026-08-14-1786723447.2023", image, tag)})
	}
	return vs
}

func numericNonRoot(user string) bool {
	uid, gid, hasGID := strings.Cut(user, ":")
	ok := func(id string) bool {
		n, err := strconv.ParseUint(id, 10, 32)
		return err == nil && n != 0
	}
	return ok(uid) && (!hasGID || ok(gid))
}
