package rules

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is a Dockerfile as BuildKit reads it: the same parser and typed
// instructions `docker build` uses, so continuations, comments, parser
// directives, heredocs, FROM and RUN flags mean here what they mean there.
type Dockerfile struct {
	Stages []instructions.Stage
	// The warnings of the lint rules BuildKit runs while parsing
	// (FromAsCasing, StageNameCasing, MaintainerDeprecated) and of its parser
	// (empty continuation lines), as violations of RuleBuildKitLint. The
	// other build checks (docs.docker.com/reference/build-checks) run while
	// converting to LLB, which would bring in most of BuildKit.
	Warnings []Violation
	escape   rune // the escape parser directive: \ unless the file says otherwise
}

// Parse reads a Dockerfile. An error means BuildKit itself would refuse it,
// or it has no build stage.
func Parse(src string) (*Dockerfile, error) {
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		return nil, err
	}
	d := &Dockerfile{escape: res.EscapeToken}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		d.Warnings = append(d.Warnings, Violation{RuleBuildKitLint, line, w.Short})
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, url, msg string, loc []parser.Range) {
		d.Warnings = append(d.Warnings, Violation{RuleBuildKitLint, lineOf(loc), fmt.Sprintf("%s: %s (%s)", rule, msg, url)})
	}})
	// ARGs before the first FROM (the second result) only feed FROM lines;
	// the rules read base names as written.
	d.Stages, _, err = instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	if len(d.Stages) == 0 {
		return nil, errors.New("no FROM instruction")
	}
	return d, nil
}

func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
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
func (d *Dockerfile) FindGoBuild(buildArgs map[string]string) (GoBuild, error) {
	var found []GoBuild
	for _, s := range d.Stages {
		vars := map[string]string{}
		env := map[string]string{}
		for _, cmd := range s.Commands {
			switch c := cmd.(type) {
			case *instructions.ArgCommand:
				for _, a := range c.Args {
					def := ""
					if a.Value != nil {
						v, err := expand(shell.NewLex(d.escape), *a.Value, vars)
						if err != nil {
							return GoBuild{}, fmt.Errorf("line %d: ARG %s: %w", lineOf(c.Location()), a.Key, err)
						}
						def = v.Result
					}
					if v, ok := buildArgs[a.Key]; ok {
						def = v
					}
					vars[a.Key] = def
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					v, err := expand(shell.NewLex(d.escape), kv.Value, vars)
					if err != nil {
						return GoBuild{}, fmt.Errorf("line %d: ENV %s: %w", lineOf(c.Location()), kv.Key, err)
					}
					vars[kv.Key], env[kv.Key] = v.Result, v.Result
				}
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if !strings.Contains(line, "go build") {
					continue
				}
				b, err := parseGoBuild(c, vars)
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

func parseGoBuild(run *instructions.RunCommand, vars map[string]string) (GoBuild, error) {
	line := lineOf(run.Location())
	if !run.PrependShell {
		return GoBuild{}, fmt.Errorf("line %d: go build in exec-form RUN is not supported", line)
	}
	words, err := shellWords(strings.Join(run.CmdLine, " "), vars)
	if err != nil {
		return GoBuild{}, fmt.Errorf("line %d: %w", line, err)
	}
	// Commands joined by && or ; : take the one that is `go build`.
	for cmd := range splitCommands(words) {
		b := GoBuild{Line: line, Env: map[string]string{}}
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
	return GoBuild{}, fmt.Errorf("line %d: cannot find `go build` as a command of its own", line)
}

// shellWords splits a shell-form RUN line into words and expands its
// variables with BuildKit's shell lexer, which follows sh for quotes, escapes
// and ${VAR} forms (including ${VAR:-default}). sh runs that line in the real
// build, so the escape character is always \ here, whatever the Dockerfile's
// escape directive. What the lexer passes through untouched but sh would run
// (command substitution) is an error, as is a variable the stage does not
// declare: the rules must never read a line differently from the build.
// Unlike sh, the lexer drops an empty quoted word ("").
func shellWords(line string, vars map[string]string) ([]string, error) {
	if strings.Contains(line, "$(") || strings.Contains(line, "`") {
		return nil, errors.New("command substitution is not supported")
	}
	res, err := expand(shell.NewLex('\\'), line, vars)
	if err != nil {
		return nil, err
	}
	return res.Words, nil
}

func expand(lex *shell.Lex, word string, vars map[string]string) (shell.ProcessWordResult, error) {
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	res, err := lex.ProcessWordWithMatches(word, shell.EnvsFromSlice(env))
	if err != nil {
		return res, err
	}
	if len(res.Unmatched) > 0 {
		names := slices.Sorted(maps.Keys(res.Unmatched))
		return res, fmt.Errorf("variable %s is not declared by ARG or ENV in this stage", strings.Join(names, ", "))
	}
	return res, nil
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

func isName(s string) bool {
	for i, c := range s {
		if c != '_' && !('A' <= c && c <= 'Z') && !('a' <= c && c <= 'z') && (i == 0 || !('0' <= c && c <= '9')) {
			return false
		}
	}
	return s != ""
}
