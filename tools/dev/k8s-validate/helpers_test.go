package main

import (
	"os"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/yaml"
)

// testValidator evaluates Pod Security "restricted" at v1.35, the default of the CLI.
func testValidator(t *testing.T) *Validator {
	t.Helper()
	v, err := NewValidator(psaapi.MajorMinorVersion(1, 35))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func validateString(t *testing.T, v *Validator, manifest string) Result {
	t.Helper()
	res, err := v.Validate(strings.NewReader(manifest))
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return res
}

// compliantManifest is testdata/compliant.yaml: the project's six objects, all compliant.
func compliantManifest(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/compliant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compliantDocument returns the one document of testdata/compliant.yaml that has the given kind.
func compliantDocument(t *testing.T, kind string) string {
	t.Helper()
	var found []string
	for _, doc := range strings.Split(compliantManifest(t), "\n---\n") {
		if strings.Contains(doc, "\nkind: "+kind+"\n") {
			found = append(found, doc)
		}
	}
	if len(found) != 1 {
		t.Fatalf("testdata/compliant.yaml: want exactly one %s document, found %d", kind, len(found))
	}
	return found[0] + "\n"
}

// compliantDeployment decodes the compliant Deployment into its typed object, to mutate.
func compliantDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(compliantDocument(t, "Deployment")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Kind != "Deployment" || d.APIVersion != "apps/v1" || len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("unexpected compliant Deployment: %s %s, %d containers", d.APIVersion, d.Kind, len(d.Spec.Template.Spec.Containers))
	}
	return &d
}

func toYAML(t *testing.T, obj any) string {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceOnce replaces exactly one occurrence of old, failing the test when there is none or
// several, so that a mutation can never silently leave the fixture unchanged.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("fixture has %d occurrences of %q, want 1", n, old)
	}
	return strings.Replace(s, old, new, 1)
}

// checks returns the findings of one check, as "<object>: <message>".
func checks(res Result, check string) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Check == check {
			out = append(out, f.Object+": "+f.Message)
		}
	}
	return out
}

// podSecurityReasons returns the upstream check reasons ("privileged", "hostPort", ...) of the
// pod-security findings of one object, sorted.
func podSecurityReasons(res Result, object string) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Check == CheckPodSecurity && f.Object == object {
			reason, _, _ := strings.Cut(f.Message, " (")
			out = append(out, reason)
		}
	}
	sort.Strings(out)
	return out
}

func requireNoFindings(t *testing.T, res Result) {
	t.Helper()
	for _, f := range res.Findings {
		t.Errorf("unexpected finding: %s", f)
	}
}

// requireFinding asserts that some finding of the given object and check contains every one of substrings.
func requireFinding(t *testing.T, res Result, object, check string, substrings ...string) {
	t.Helper()
	for _, f := range res.Findings {
		if f.Object != object || f.Check != check {
			continue
		}
		all := true
		for _, s := range substrings {
			all = all && strings.Contains(f.Message, s)
		}
		if all {
			return
		}
	}
	t.Errorf("no %s finding for %s containing %q; findings:\n%s", check, object, substrings, dump(res))
}

func dump(res Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		b.WriteString("  " + f.String() + "\n")
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}
