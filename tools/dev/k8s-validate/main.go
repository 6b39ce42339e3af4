// Command k8s-validate proves, without a cluster, that rendered Kubernetes manifests decode
// strictly into the typed objects of the Kubernetes 1.35 API (k8s.io/api v0.35.x) and that every
// pod template in them satisfies Pod Security Standards "restricted" (k8s.io/pod-security-admission).
//
//	k8s-validate [--psa-version v1.35] [--json] <file.yaml|->
//
// Exit status: 0 no findings, 1 findings, 2 unreadable input or usage error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	psaapi "k8s.io/pod-security-admission/api"
)

const usage = "usage: k8s-validate [--psa-version v1.35] [--json] <file.yaml|->"

// Exit statuses.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// jsonReport is the --json output.
type jsonReport struct {
	OK       bool      `json:"ok"`
	Objects  int       `json:"objects"`
	Findings []Finding `json:"findings"`
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("k8s-validate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	psaFlag := fs.String("psa-version", "v"+KubernetesVersion, `Pod Security Standards version to evaluate "restricted" at ("v1.x" or "latest")`)
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	// The flag package keeps the last of a repeated flag; every command of the repository refuses
	// one instead (issue 13), so that "--x a --x b" never silently means b.
	fs.VisitAll(func(f *flag.Flag) { f.Value = &onceValue{Value: f.Value, name: f.Name} })

	// Flags may come before or after the file name.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stdout, usage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return exitOK
			}
			fmt.Fprintf(stderr, "k8s-validate: %v\n%s\n", err, usage)
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "k8s-validate: want exactly one file (or - for standard input), got %d\n%s\n", len(positional), usage)
		return exitUsage
	}
	psaVersion, err := psaapi.ParseVersion(*psaFlag)
	if err != nil {
		fmt.Fprintf(stderr, "k8s-validate: --psa-version %q: %v\n", *psaFlag, err)
		return exitUsage
	}
	v, err := NewValidator(psaVersion)
	if err != nil {
		fmt.Fprintf(stderr, "k8s-validate: --psa-version %q: %v\n", *psaFlag, err)
		return exitUsage
	}

	in := stdin
	name := positional[0]
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "k8s-validate: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		in = f
	} else {
		name = "standard input"
	}
	res, err := v.Validate(in)
	if err != nil {
		fmt.Fprintf(stderr, "k8s-validate: %s: %v\n", name, err)
		return exitUsage
	}
	if res.Objects == 0 {
		// An empty render must not pass as "no findings".
		fmt.Fprintf(stderr, "k8s-validate: %s: no Kubernetes objects in the input\n", name)
		return exitUsage
	}

	summary := fmt.Sprintf("k8s-validate: %d objects, %d findings (Kubernetes %s API, Pod Security restricted %s)",
		res.Objects, len(res.Findings), KubernetesVersion, v.podSecurity.version)
	if *asJSON {
		report := jsonReport{OK: len(res.Findings) == 0, Objects: res.Objects, Findings: res.Findings}
		if report.Findings == nil {
			report.Findings = []Finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			fmt.Fprintf(stderr, "k8s-validate: %v\n", err)
			return exitUsage
		}
		// Standard output stays one JSON document; the summary goes to standard error.
		fmt.Fprintln(stderr, summary)
	} else {
		for _, f := range res.Findings {
			fmt.Fprintln(stdout, f.String())
		}
		fmt.Fprintln(stdout, summary)
	}
	if len(res.Findings) > 0 {
		return exitFindings
	}
	return exitOK
}

// onceValue refuses a second Set of the same flag.
type onceValue struct {
	flag.Value
	name string
	set  bool
}

func (o *onceValue) Set(s string) error {
	if o.set {
		return fmt.Errorf("--%s is given twice; give it once", o.name)
	}
	o.set = true
	return o.Value.Set(s)
}

// IsBoolFlag keeps a wrapped switch (--json) a switch that takes no value.
func (o *onceValue) IsBoolFlag() bool {
	b, ok := o.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
