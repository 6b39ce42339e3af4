package main

import (
	"os"
	"regexp"
	"testing"
)

// The k8s.io modules must stay on the release line of KubernetesVersion, all three together:
// k8s.io/api v0.35.x is the Kubernetes 1.35 API. Bumping one without the others, or without
// KubernetesVersion, fails here.
func TestPinnedModulesMatchKubernetesVersion(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	minor := regexp.MustCompile(`^1\.(\d+)$`).FindStringSubmatch(KubernetesVersion)
	if minor == nil {
		t.Fatalf("KubernetesVersion %q is not 1.<minor>", KubernetesVersion)
	}
	want := regexp.MustCompile(`^v0\.` + minor[1] + `\.\d+$`)
	versions := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(k8s\.io/(?:api|apimachinery|pod-security-admission)) (v\S+)`).FindAllStringSubmatch(string(b), -1) {
		versions[m[1]] = m[2]
	}
	for _, mod := range []string{"k8s.io/api", "k8s.io/apimachinery", "k8s.io/pod-security-admission"} {
		v, ok := versions[mod]
		switch {
		case !ok:
			t.Errorf("go.mod does not require %s", mod)
		case !want.MatchString(v):
			t.Errorf("go.mod: %s %s, want v0.%s.x for Kubernetes %s", mod, v, minor[1], KubernetesVersion)
		case v != versions["k8s.io/api"]:
			t.Errorf("go.mod: %s %s differs from k8s.io/api %s", mod, v, versions["k8s.io/api"])
		}
	}
}
