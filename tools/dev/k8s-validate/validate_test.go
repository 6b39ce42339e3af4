package main

import (
	"errors"
	"strings"
	"testing"
)

// Each case mutates one document of testdata/compliant.yaml as text (or adds one), and must
// produce a schema finding for the right object naming the problem.
func TestSchemaMutationsFail(t *testing.T) {
	deployment := compliantDocument(t, "Deployment")
	service := compliantDocument(t, "Service")
	pdb := compliantDocument(t, "PodDisruptionBudget")
	hpa := compliantDocument(t, "HorizontalPodAutoscaler")
	cases := []struct {
		name   string
		doc    string
		object string
		want   []string // substrings of one schema finding
	}{
		{"unknown container field", replaceOnce(t, deployment, "imagePullPolicy: IfNotPresent", "imagePullPolice: IfNotPresent"),
			"Deployment/sample-web", []string{`unknown field "spec.template.spec.containers[0].imagePullPolice"`}},
		{"field names are case-sensitive", replaceOnce(t, deployment, "imagePullPolicy: IfNotPresent", "ImagePullPolicy: IfNotPresent"),
			"Deployment/sample-web", []string{`unknown field "spec.template.spec.containers[0].ImagePullPolicy"`}},
		{"unknown top-level spec field", replaceOnce(t, deployment, "  replicas: 2\n", "  replica: 2\n"),
			"Deployment/sample-web", []string{`unknown field "spec.replica"`}},
		{"wrong type: replicas as string", replaceOnce(t, deployment, "replicas: 2", `replicas: "3"`),
			"Deployment/sample-web", []string{"cannot unmarshal string", "spec.replicas", "int32"}},
		{"wrong type: runAsNonRoot as string", replaceOnce(t, deployment, "        runAsNonRoot: true\n        runAsUser: 65532\n        runAsGroup: 65532\n        fsGroup",
			"        runAsNonRoot: \"yes please\"\n        runAsUser: 65532\n        runAsGroup: 65532\n        fsGroup"),
			"Deployment/sample-web", []string{"cannot unmarshal string", "runAsNonRoot", "bool"}},
		{"wrong type: bad quantity", replaceOnce(t, deployment, "cpu: 100m", "cpu: 100 millicores"),
			"Deployment/sample-web", []string{"quantities must match the regular expression"}},
		{"duplicate field", replaceOnce(t, deployment, "  minReadySeconds: 5\n", "  minReadySeconds: 5\n  minReadySeconds: 6\n"),
			"Deployment/sample-web", []string{"duplicate field", `key "minReadySeconds" already set`}},
		{"unknown kind", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
			"Widget/w", []string{`unknown apiVersion "example.com/v1", kind "Widget"`}},
		{"misspelled built-in kind", replaceOnce(t, deployment, "kind: Deployment\n", "kind: Deploymnet\n"),
			"Deploymnet/sample-web", []string{`unknown apiVersion "apps/v1", kind "Deploymnet"`}},
		{"removed apiVersion", replaceOnce(t, hpa, "apiVersion: autoscaling/v2\n", "apiVersion: autoscaling/v2beta2\n"),
			"HorizontalPodAutoscaler/sample-web", []string{`unknown apiVersion "autoscaling/v2beta2"`}},
		{"missing apiVersion", replaceOnce(t, pdb, "apiVersion: policy/v1\n", ""),
			"PodDisruptionBudget/sample-web", []string{"apiVersion and kind are required"}},
		{"missing kind", "apiVersion: v1\nmetadata:\n  name: x\n",
			"document 1", []string{"apiVersion and kind are required"}},
		{"name is not a DNS-1123 subdomain", replaceOnce(t, deployment, "  name: sample-web\n  namespace", "  name: Sample_Web\n  namespace"),
			"Deployment/Sample_Web", []string{"metadata.name", `"Sample_Web"`, "RFC 1123 subdomain"}},
		{"Service name must be a DNS-1035 label", replaceOnce(t, service, "  name: sample-web\n  namespace", "  name: 1-sample-web\n  namespace"),
			"Service/1-sample-web", []string{"metadata.name", `"1-sample-web"`, "DNS-1035 label"}},
		{"namespace must be a DNS-1123 label", replaceOnce(t, service, "namespace: sample-web", "namespace: sample.web"),
			"Service/sample-web", []string{"metadata.namespace", `"sample.web"`, "must not contain dots"}},
		{"missing name", replaceOnce(t, pdb, "  name: sample-web\n", ""),
			"PodDisruptionBudget/(unnamed, document 1)", []string{"metadata.name: Required value"}},
		{"invalid label value", replaceOnce(t, service, "    app.kubernetes.io/part-of: sample-web\n  annotations", "    app.kubernetes.io/part-of: sample web\n  annotations"),
			"Service/sample-web", []string{"metadata.labels", `"sample web"`}},
		{"invalid pod template label value", replaceOnce(t, deployment, "app.kubernetes.io/version: 0123abcd", "app.kubernetes.io/version: 0123abcd+dirty"),
			"Deployment/sample-web", []string{"spec.template.metadata.labels", `"0123abcd+dirty"`}},
		{"selector does not match template labels", replaceOnce(t, deployment, "      app.kubernetes.io/part-of: sample-web\n  strategy", "      app.kubernetes.io/part-of: other\n  strategy"),
			"Deployment/sample-web", []string{"spec.template.metadata.labels", "`selector` does not match template `labels`"}},
		{"invalid PDB selector", replaceOnce(t, pdb, "      app.kubernetes.io/name: sample-web", "      app.kubernetes.io/name: -bad-"),
			"PodDisruptionBudget/sample-web", []string{"spec.selector.matchLabels", `"-bad-"`}},
		{"namespace on a cluster-scoped kind", replaceOnce(t, compliantDocument(t, "Namespace"), "  name: sample-web\n", "  name: sample-web\n  namespace: default\n"),
			"Namespace/sample-web", []string{"metadata.namespace", "not allowed on this type"}},
		{"not an applyable object", "apiVersion: v1\nkind: PodLogOptions\ncontainer: web\n",
			"PodLogOptions/(unnamed, document 1)", []string{"PodLogOptions is not an object that can be applied"}},
		{"document is not a mapping", "just a string\n",
			"document 1", []string{"must be a mapping"}},
		{"invalid YAML", "apiVersion: v1\nkind: [unclosed\n",
			"document 1", []string{"not valid YAML"}},
	}
	v := testValidator(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := validateString(t, v, tc.doc)
			requireFinding(t, res, tc.object, CheckSchema, tc.want...)
			if res.Objects != 1 {
				t.Errorf("Objects = %d, want 1", res.Objects)
			}
		})
	}
}

// An unknown field does not stop the other checks: the object still decodes, so its Pod Security
// problems are reported alongside.
func TestUnknownFieldDoesNotHidePodSecurity(t *testing.T) {
	doc := replaceOnce(t, compliantDocument(t, "Deployment"), "imagePullPolicy: IfNotPresent", "imagePullPolice: IfNotPresent")
	doc = replaceOnce(t, doc, "privileged: false", "privileged: true")
	res := validateString(t, testValidator(t), doc)
	requireFinding(t, res, "Deployment/sample-web", CheckSchema, "imagePullPolice")
	requireFinding(t, res, "Deployment/sample-web", CheckPodSecurity, "privileged")
	if len(res.Findings) != 2 {
		t.Errorf("want 2 findings, got:\n%s", dump(res))
	}
}

// Findings are reported per document, in input order, and the other documents are unaffected.
func TestMultiDocumentFindingsAreAttributed(t *testing.T) {
	m := compliantManifest(t)
	m = replaceOnce(t, m, "imagePullPolicy: IfNotPresent", "imagePullPolice: IfNotPresent")
	m = replaceOnce(t, m, "    pod-security.kubernetes.io/enforce: restricted\n", "")
	m += "\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
	res := validateString(t, testValidator(t), m)
	if res.Objects != 7 {
		t.Errorf("Objects = %d, want 7", res.Objects)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Object+" "+f.Check)
	}
	want := []string{"Namespace/sample-web namespace-label", "Deployment/sample-web schema", "Widget/w schema"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("findings = %q, want %q\n%s", got, want, dump(res))
	}
}

func TestEmptyDocumentsAndCommentsAreSkipped(t *testing.T) {
	m := "# leading comment\n---\n---\n" + compliantDocument(t, "ServiceAccount") + "---\n# only a comment\n---\n\n---\n"
	res := validateString(t, testValidator(t), m)
	requireNoFindings(t, res)
	if res.Objects != 1 {
		t.Errorf("Objects = %d, want 1", res.Objects)
	}
}

// A List is not applied itself: kubectl applies its items, so each item is checked.
func TestListItemsAreChecked(t *testing.T) {
	sa := compliantDocument(t, "ServiceAccount")
	bad := replaceOnce(t, sa, "automountServiceAccountToken: false", "automountServiceAccountToken: false\nsecrets: nope")
	indent := func(doc string) string {
		lines := strings.Split(strings.TrimSuffix(doc, "\n"), "\n")
		for i := range lines {
			if i == 0 {
				lines[i] = "  - " + lines[i]
			} else {
				lines[i] = "    " + lines[i]
			}
		}
		return strings.Join(lines, "\n") + "\n"
	}
	m := "apiVersion: v1\nkind: List\nitems:\n" + indent(sa) + indent(bad)
	res := validateString(t, testValidator(t), m)
	if res.Objects != 2 {
		t.Errorf("Objects = %d, want 2", res.Objects)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("want exactly 1 finding, got:\n%s", dump(res))
	}
	requireFinding(t, res, "ServiceAccount/sample-web", CheckSchema, "cannot unmarshal string", "secrets")
}

// In a typed list, an item's unknown field is reported once, on the item.
func TestTypedListItemFindingsAreNotDuplicated(t *testing.T) {
	m := "apiVersion: v1\nkind: ServiceAccountList\nitems:\n" +
		"  - apiVersion: v1\n    kind: ServiceAccount\n    metadata:\n      name: a\n    automountServiceAccountTokn: false\n" +
		"  - apiVersion: v1\n    kind: ServiceAccount\n    metadata:\n      name: b\n"
	res := validateString(t, testValidator(t), m)
	if res.Objects != 2 || len(res.Findings) != 1 {
		t.Fatalf("Objects = %d, want 2; want exactly 1 finding, got:\n%s", res.Objects, dump(res))
	}
	requireFinding(t, res, "ServiceAccount/a", CheckSchema, `unknown field "automountServiceAccountTokn"`)
}

func TestBadDocumentSeparatorIsAnInputError(t *testing.T) {
	_, err := testValidator(t).Validate(strings.NewReader(compliantDocument(t, "ServiceAccount") + "--- not a separator\n"))
	var inputErr *InputError
	if !errors.As(err, &inputErr) {
		t.Fatalf("err = %v, want an *InputError", err)
	}
}

// The project's NetworkPolicy (networking.k8s.io/v1) is a known kind, and its selectors are checked.
func TestNetworkPolicy(t *testing.T) {
	const np = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: sample-web
  namespace: sample-web
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: sample-web
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ingress
      ports:
        - port: 8080
          protocol: TCP
  egress: []
`
	v := testValidator(t)
	requireNoFindings(t, validateString(t, v, np))

	cases := []struct{ name, old, new, want string }{
		{"unknown field", "  policyTypes:", "  policyType:", `unknown field "spec.policyType"`},
		{"invalid podSelector", "      app.kubernetes.io/name: sample-web", "      app.kubernetes.io/name: -x-", "spec.podSelector.matchLabels"},
		{"invalid peer selector", "kubernetes.io/metadata.name: ingress", "kubernetes.io/metadata.name: in gress", "spec.ingress[0].from[0].namespaceSelector.matchLabels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireFinding(t, validateString(t, v, replaceOnce(t, np, tc.old, tc.new)), "NetworkPolicy/sample-web", CheckSchema, tc.want)
		})
	}
}
