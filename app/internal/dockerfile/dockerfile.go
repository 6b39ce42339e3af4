// Package dockerfile reads the subset of Dockerfile syntax that app/Dockerfile
// uses and checks it against the image rules the service is delivered by.
// No Docker engine runs where the tests do, so this is how the image's
// promises are kept: pinned public ECR bases, a numeric non-root user, port
// 8080, and a static, trimmed, version-stamped build.
//
// It is deliberately small: instructions with line continuations and
// comments, FROM flags and stage names, and shell-form RUN lines split into
// words with quotes and ${VAR} expansion. Anything it does not understand is
// an error, never a silent pass.
package dockerfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Instruction is one Dockerfile instruction, continuations joined.
type Instruction struct {
	Line    int    // 1-based line where it starts
	Keyword string // upper case: FROM, RUN, USER, ...
	Args    string // everything after the keyword
}

// Stage is one FROM and the instructions up to the next FROM.
type Stage struct {
	From         Instruction
	Image        string // as written, e.g. public.ecr.aws/docker/library/golang:1.26.8-bookworm
	Name         string // the AS name, if any
	Instructions []Instruction
}

// Parse splits a Dockerfile into stages.
func Parse(src string) ([]Stage, error) {
	var (
		stages  []Stage
		pending strings.Builder
		start   int
	)
	lines := strings.Split(src, "\n")
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && pending.Len() == 0) {
			// Comments (and parser directives) are skipped, even between
			// continued lines, as Docker does.
			continue
		}
		if pending.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont)
			pending.WriteString(" ")
			if i == len(lines)-1 {
				return nil, fmt.Errorf("line %d: continuation at end of file", start)
			}
			continue
		}
		pending.WriteString(line)
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		if text == "" {
			continue
		}
		keyword, args, _ := strings.Cut(text, " ")
		inst := Instruction{Line: start, Keyword: strings.ToUpper(keyword), Args: strings.TrimSpace(args)}
		if inst.Keyword == "FROM" {
			stage, err := parseFrom(inst)
			if err != nil {
				return nil, err
			}
			stages = append(stages, stage)
			continue
		}
		if len(stages) == 0 {
			if inst.Keyword == "ARG" {
				continue // ARGs before the first FROM only feed FROM lines
			}
			return nil, fmt.Errorf("line %d: %s before the first FROM", inst.Line, inst.Keyword)
		}
		last := &stages[len(stages)-1]
		last.Instructions = append(last.Instructions, inst)
	}
	if len(stages) == 0 {
		return nil, errors.New("no FROM instruction")
	}
	return stages, nil
}

func parseFrom(inst Instruction) (Stage, error) {
	words := strings.Fields(inst.Args)
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		words = words[1:] // --platform=...
	}
	stage := Stage{From: inst}
	switch {
	case len(words) == 1:
		stage.Image = words[0]
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		stage.Image, stage.Name = words[0], words[2]
	default:
		return Stage{}, fmt.Errorf("line %d: cannot read FROM %q", inst.Line, inst.Args)
	}
	return stage, nil
}

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
	stages, err := Parse(src)
	if err != nil {
		return nil, err
	}
	var vs []Violation
	add := func(rule string, line int, format string, args ...any) {
		vs = append(vs, Violation{Rule: rule, Line: line, Message: fmt.Sprintf(format, args...)})
	}

	var names []string
	for _, s := range stages {
		vs = append(vs, checkBase(s, names)...)
		if s.Name != "" {
			names = append(names, strings.ToLower(s.Name))
		}
	}

	final := stages[len(stages)-1]
	if final.Image == "scratch" {
		// Amazon Inspector (ECR enhanced scanning) reports such images as
		// UNSUPPORTED_IMAGE, and the image gate cannot pass them
		// (aws/containers-roadmap#2301).
		add(RuleFinalScannable, final.From.Line, "final stage is FROM scratch, which Amazon Inspector cannot scan (UNSUPPORTED_IMAGE); use a minimal base of a supported OS")
	}
	for _, inst := range final.Instructions {
		if inst.Keyword == "RUN" {
			add(RuleFinalNoRun, inst.Line, "RUN in the final stage needs a shell in the image; build in an earlier stage and COPY the result")
		}
	}
	if user, ok := last(final, "USER"); !ok {
		add(RuleUserNonRoot, final.From.Line, "final stage has no USER: it would run as root")
	} else if !numericNonRoot(user.Args) {
		add(RuleUserNonRoot, user.Line, "USER %q must be numeric uid:gid, neither 0 (e.g. 65532:65532)", user.Args)
	}
	exposes := false
	for _, inst := range final.Instructions {
		if inst.Keyword == "EXPOSE" && slices.ContainsFunc(strings.Fields(inst.Args), func(p string) bool {
			return p == "8080" || p == "8080/tcp"
		}) {
			exposes = true
		}
	}
	if !exposes {
		add(RuleExpose8080, final.From.Line, "final stage does not EXPOSE 8080")
	}
	if ep, ok := last(final, "ENTRYPOINT"); !ok {
		add(RuleEntrypointExec, final.From.Line, "final stage has no ENTRYPOINT")
	} else {
		var argv []string
		if json.Unmarshal([]byte(ep.Args), &argv) != nil || len(argv) == 0 {
			add(RuleEntrypointExec, ep.Line, "ENTRYPOINT %s must be exec form, e.g. [\"/hello-web\"]: shell form needs a shell and hides SIGTERM", ep.Args)
		}
	}

	// Expand the build line with markers in place of the build args, so the
	// check sees where each one lands.
	const versionMark, commitMark = "@VERSION@", "@COMMIT@"
	build, err := FindGoBuild(stages, map[string]string{
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

func checkBase(s Stage, earlier []string) []Violation {
	image := s.Image
	line := s.From.Line
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

func last(s Stage, keyword string) (Instruction, bool) {
	for i := len(s.Instructions) - 1; i >= 0; i-- {
		if s.Instructions[i].Keyword == keyword {
			return s.Instructions[i], true
		}
	}
	return Instruction{}, false
}

func numericNonRoot(user string) bool {
	uid, gid, hasGID := strings.Cut(user, ":")
	ok := func(id string) bool {
		n, err := strconv.ParseUint(id, 10, 32)
		return err == nil && n != 0
	}
	return ok(uid) && (!hasGID || ok(gid))
}

// GoBuild is the `go build` command of a RUN instruction, expanded.
type GoBuild struct {
	Line int               // of the RUN instruction
	Env  map[string]string // NAME=value words before `go`, and the stage's ENV
	Args []string          // after `go`: build, flags, packages
}

// Flag returns the value of a flag given as "-flag value" or "-flag=value".
func (b GoBuild) Flag(name string) string {
	for i, a := range b.Args {
		if a == name && i+1 < len(b.Args) {
			return b.Args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// EnvList is Env as NAME=value strings, sorted, for exec.Cmd.
func (b GoBuild) EnvList() []string {
	var env []string
	for k, v := range b.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// FindGoBuild finds the one RUN instruction that runs `go build` and expands
// it. buildArgs plays --build-arg: it overrides the stage's ARG defaults.
// Every variable the line uses must be declared by ARG or ENV in its stage.
func FindGoBuild(stages []Stage, buildArgs map[string]string) (GoBuild, error) {
	var found []GoBuild
	for _, s := range stages {
		vars := map[string]string{}
		env := map[string]string{}
		for _, inst := range s.Instructions {
			switch inst.Keyword {
			case "ARG":
				name, def, _ := strings.Cut(inst.Args, "=")
				if v, ok := buildArgs[name]; ok {
					def = v
				}
				vars[name] = def
			case "ENV":
				name, val, ok := strings.Cut(inst.Args, "=")
				if !ok {
					return GoBuild{}, fmt.Errorf("line %d: write ENV as NAME=value", inst.Line)
				}
				words, err := SplitWords(val, vars)
				if err != nil || len(words) != 1 {
					return GoBuild{}, fmt.Errorf("line %d: cannot read ENV %s", inst.Line, inst.Args)
				}
				vars[name], env[name] = words[0], words[0]
			case "RUN":
				if !strings.Contains(inst.Args, "go build") {
					continue
				}
				b, err := parseGoBuild(inst, vars)
				if err != nil {
					return GoBuild{}, err
				}
				for k, v := range env {
					if _, set := b.Env[k]; !set {
						b.Env[k] = v
					}
				}
				found = append(found, b)
			}
		}
	}
	switch len(found) {
	case 0:
		return GoBuild{}, errors.New("no RUN instruction runs `go build`")
	case 1:
		return found[0], nil
	default:
		return GoBuild{}, fmt.Errorf("%d RUN instructions run `go build`; expected one", len(found))
	}
}

func parseGoBuild(inst Instruction, vars map[string]string) (GoBuild, error) {
	if strings.HasPrefix(inst.Args, "[") {
		return GoBuild{}, fmt.Errorf("line %d: go build in exec-form RUN is not supported", inst.Line)
	}
	words, err := SplitWords(inst.Args, vars)
	if err != nil {
		return GoBuild{}, fmt.Errorf("line %d: %w", inst.Line, err)
	}
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		words = words[1:] // RUN --mount=...
	}
	// Commands joined by && or ; : take the one that is `go build`.
	for cmd := range splitCommands(words) {
		b := GoBuild{Line: inst.Line, Env: map[string]string{}}
		i := 0
		for ; i < len(cmd); i++ {
			name, val, ok := strings.Cut(cmd[i], "=")
			if !ok || !isName(name) {
				break
			}
			b.Env[name] = val
		}
		if len(cmd)-i >= 2 && cmd[i] == "go" && cmd[i+1] == "build" {
			b.Args = slices.Clone(cmd[i+1:])
			return b, nil
		}
	}
	return GoBuild{}, fmt.Errorf("line %d: cannot find `go build` as a command of its own", inst.Line)
}

func splitCommands(words []string) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		start := 0
		for i := 0; i <= len(words); i++ {
			if i == len(words) || words[i] == "&&" || words[i] == ";" || words[i] == "||" {
				if !yield(words[start:i]) {
					return
				}
				start = i + 1
			}
		}
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func isName(s string) bool { return nameRE.MatchString(s) }

// SplitWords splits a shell command line into words as sh would for the
// simple lines Dockerfiles hold: blanks separate words; '...' is literal;
// "..." expands $VAR and ${VAR} and honours \" \\ \$; a backslash outside
// quotes escapes the next character. A variable not in vars is an error, as
// is any other shell syntax ($(...), `...`, ${VAR:-x}).
func SplitWords(s string, vars map[string]string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		i       int
		runes   = []rune(s)
		expandV = func() error {
			// runes[i] == '$'
			i++
			if i >= len(runes) {
				return errors.New("lone $ at end of line")
			}
			var name string
			switch {
			case runes[i] == '{':
				end := slices.Index(runes[i:], '}')
				if end < 0 {
					return errors.New("unterminated ${")
				}
				name = string(runes[i+1 : i+end])
				i += end + 1
			default:
				j := i
				for j < len(runes) && (runes[j] == '_' || ('A' <= runes[j] && runes[j] <= 'Z') ||
					('a' <= runes[j] && runes[j] <= 'z') || ('0' <= runes[j] && runes[j] <= '9')) {
					j++
				}
				name = string(runes[i:j])
				i = j
			}
			if !isName(name) {
				return fmt.Errorf("unsupported expansion $%s", name)
			}
			v, ok := vars[name]
			if !ok {
				return fmt.Errorf("variable %s is not declared by ARG or ENV in this stage", name)
			}
			cur.WriteString(v)
			return nil
		}
	)
	for i < len(runes) {
		c := runes[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			inWord = true
			end := slices.Index(runes[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(string(runes[i+1 : i+1+end]))
			i += end + 2
		case c == '"':
			inWord = true
			i++
			for {
				if i >= len(runes) {
					return nil, errors.New("unterminated double quote")
				}
				d := runes[i]
				if d == '"' {
					i++
					break
				}
				switch {
				case d == '\\' && i+1 < len(runes) && strings.ContainsRune(`"\$`, runes[i+1]):
					cur.WriteRune(runes[i+1])
					i += 2
				case d == '$':
					if err := expandV(); err != nil {
						return nil, err
					}
				case d == '`':
					return nil, errors.New("command substitution is not supported")
				default:
					cur.WriteRune(d)
					i++
				}
			}
		case c == '\\':
			inWord = true
			if i+1 < len(runes) {
				cur.WriteRune(runes[i+1])
			}
			i += 2
		case c == '$':
			inWord = true
			if err := expandV(); err != nil {
				return nil, err
			}
		case c == '`':
			return nil, errors.New("command substitution is not supported")
		default:
			inWord = true
			cur.WriteRune(c)
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
