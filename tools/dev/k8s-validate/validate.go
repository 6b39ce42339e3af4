package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	psaapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/yaml"
)

// The checks a finding can come from (the "check" field of --json).
const (
	CheckSchema         = "schema"
	CheckPodSecurity    = "pod-security"
	CheckNamespaceLabel = "namespace-label"
)

// Finding is one problem with one object.
type Finding struct {
	Object  string `json:"object"`
	Check   string `json:"check"`
	Message string `json:"message"`
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Object, f.Check, f.Message) }

// Result is what Validate found in a whole input.
type Result struct {
	Objects  int
	Findings []Finding
}

// Validator checks manifests against the typed Kubernetes API and the Pod Security Standards.
type Validator struct {
	decoder     runtime.Decoder
	podSecurity *podSecurity
}

// NewValidator returns a Validator that evaluates pod templates against Pod Security "restricted"
// at psaVersion.
func NewValidator(psaVersion psaapi.Version) (*Validator, error) {
	ps, err := newPodSecurity(psaVersion)
	if err != nil {
		return nil, err
	}
	s := newScheme()
	// Strict: unknown fields and duplicate fields are errors (runtime.IsStrictDecodingError);
	// wrong types are errors in any mode. Field names are matched case-sensitively.
	dec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Strict: true})
	return &Validator{decoder: dec, podSecurity: ps}, nil
}

// InputError means the input as a whole could not be read or split into YAML documents.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Validate reads a multi-document YAML stream and checks every object in it.
func (v *Validator) Validate(r io.Reader) (Result, error) {
	var res Result
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for doc := 1; ; doc++ {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, &InputError{Err: fmt.Errorf("document %d: %w", doc, err)}
		}
		v.validateDocument(chunk, fmt.Sprintf("document %d", doc), &res)
	}
	return res, nil
}

// validateDocument checks one YAML document (or one item of a List).
func (v *Validator) validateDocument(yamlDoc []byte, where string, res *Result) {
	// YAMLToJSONStrict rejects duplicate keys, which YAMLToJSON would silently collapse to the last one.
	jsonDoc, err := yaml.YAMLToJSONStrict(yamlDoc)
	var strictYAMLErr error
	if err != nil {
		// Report it, then carry on with the lenient conversion if that works, so that the
		// document's other problems are reported too.
		strictYAMLErr = err
		if jsonDoc, err = yaml.YAMLToJSON(yamlDoc); err != nil {
			res.Objects++
			res.add(where, CheckSchema, fmt.Sprintf("not valid YAML: %v", err))
			return
		}
	}
	if t := bytes.TrimSpace(jsonDoc); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return // an empty document, or one holding only comments: nothing to apply
	}
	res.Objects++
	id := objectID(jsonDoc, where)
	if strictYAMLErr != nil {
		res.add(id, CheckSchema, fmt.Sprintf("duplicate field: %v", strictYAMLErr))
	}
	if !bytes.HasPrefix(bytes.TrimSpace(jsonDoc), []byte("{")) {
		res.add(id, CheckSchema, "a document must be a mapping (an object with apiVersion, kind and metadata)")
		return
	}

	obj, gvk, err := v.decoder.Decode(jsonDoc, nil, nil)
	switch {
	case err == nil:
	case runtime.IsStrictDecodingError(err) && obj != nil:
		// Unknown or duplicate fields: the object decoded, so the other checks still run on it.
		strictErr, _ := runtime.AsStrictDecodingError(err)
		isList := meta.IsListType(obj)
		for _, e := range strictErr.Errors() {
			if isList && strings.Contains(e.Error(), `"items[`) {
				continue // reported on the item itself, below
			}
			res.add(id, CheckSchema, e.Error())
		}
	case runtime.IsNotRegisteredError(err):
		res.add(id, CheckSchema, unknownKindMessage(gvk))
		return
	case runtime.IsMissingKind(err), runtime.IsMissingVersion(err):
		res.add(id, CheckSchema, "apiVersion and kind are required")
		return
	default:
		res.add(id, CheckSchema, err.Error())
		return
	}

	if meta.IsListType(obj) {
		res.Objects-- // the List itself is not applied; its items are
		v.validateListItems(jsonDoc, id, where, res)
		return
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		res.add(id, CheckSchema, fmt.Sprintf("%s is not an object that can be applied: it has no metadata", gvk.Kind))
		return
	}
	for _, e := range validateMetadata(gvk.GroupKind(), accessor) {
		res.add(id, CheckSchema, e.Error())
	}
	for _, e := range validateSelectors(obj) {
		res.add(id, CheckSchema, e.Error())
	}
	for _, t := range podTemplates(obj) {
		for _, e := range validateTemplateMetadata(t) {
			res.add(id, CheckSchema, e.Error())
		}
		for _, m := range v.podSecurity.evaluate(t) {
			res.add(id, CheckPodSecurity, m)
		}
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		for _, m := range v.podSecurity.namespaceLabelProblems(ns.Labels) {
			res.add(id, CheckNamespaceLabel, m)
		}
	}
}

// validateListItems checks the items of a List (kind: List, DeploymentList, ...), as kubectl
// applies each of them.
func (v *Validator) validateListItems(jsonDoc []byte, listID, where string, res *Result) {
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(jsonDoc, &list); err != nil {
		res.add(listID, CheckSchema, fmt.Sprintf("items: %v", err))
		return
	}
	for i, item := range list.Items {
		v.validateDocument(item, fmt.Sprintf("%s, items[%d]", where, i), res)
	}
}

// multiline matches a line break and the indentation after it, as in yaml's multi-line errors.
var multiline = regexp.MustCompile(`\s*\n\s*`)

func (r *Result) add(object, check, message string) {
	// One finding, one line.
	message = multiline.ReplaceAllString(strings.TrimSpace(message), " ")
	r.Findings = append(r.Findings, Finding{Object: object, Check: check, Message: message})
}

// objectID names an object "<kind>/<name>" from its raw JSON, leniently, so that even an object
// that does not decode can be named. where ("document 3") stands in for what is missing.
func objectID(jsonDoc []byte, where string) string {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(jsonDoc, &head) // best effort: a wrong type here is reported by the decoder
	name := head.Metadata.Name
	if name == "" && head.Metadata.GenerateName != "" {
		name = head.Metadata.GenerateName + "*"
	}
	switch {
	case head.Kind != "" && name != "":
		return head.Kind + "/" + name
	case head.Kind != "":
		return fmt.Sprintf("%s/(unnamed, %s)", head.Kind, where)
	default:
		return where
	}
}

func unknownKindMessage(gvk *schema.GroupVersionKind) string {
	known := make([]string, len(supportedGroupVersions))
	for i, gv := range supportedGroupVersions {
		known[i] = gv.String()
	}
	what := "this apiVersion/kind"
	if gvk != nil {
		what = fmt.Sprintf("apiVersion %q, kind %q", gvk.GroupVersion().String(), gvk.Kind)
	}
	return fmt.Sprintf("unknown %s: not a built-in kind of %s in the Kubernetes %s API "+
		"(a removed or misspelled apiVersion/kind, or a custom resource; k8s-validate knows only these group/versions)",
		what, strings.Join(known, ", "), KubernetesVersion)
}

// validateMetadata runs apimachinery's ObjectMeta validation (name format, namespace format,
// label keys and values, annotation size, owner references, finalizers), as the API server does on
// create. The name rule is the API server's for Namespace (DNS-1123 label) and Service (DNS-1035
// label) and DNS-1123 subdomain, the rule every other name must at least meet, for the rest.
// A namespaced object without metadata.namespace is accepted: kubectl fills it in.
func validateMetadata(gk schema.GroupKind, m metav1.Object) field.ErrorList {
	nameFn := apimachineryvalidation.NameIsDNSSubdomain
	switch gk {
	case schema.GroupKind{Kind: "Namespace"}:
		nameFn = apimachineryvalidation.ValidateNamespaceName
	case schema.GroupKind{Kind: "Service"}:
		nameFn = apimachineryvalidation.NameIsDNS1035Label
	}
	requiresNamespace := !clusterScoped[gk] && m.GetNamespace() != ""
	return apimachineryvalidation.ValidateObjectMetaAccessor(m, requiresNamespace, nameFn, field.NewPath("metadata"))
}

// validateTemplateMetadata checks a pod template's labels and annotations with apimachinery.
func validateTemplateMetadata(t podTemplate) field.ErrorList {
	if t.metaPath == nil { // a Pod: its metadata was checked as the object's
		return nil
	}
	errs := metav1validation.ValidateLabels(t.meta.Labels, t.metaPath.Child("labels"))
	return append(errs, apimachineryvalidation.ValidateAnnotations(t.meta.Annotations, t.metaPath.Child("annotations"))...)
}

// validateSelectors checks label selectors with apimachinery, and for the apps/v1 controllers the
// API server's rule that the selector is required, not empty, and matches the template's labels
// (otherwise the apply is rejected).
func validateSelectors(obj runtime.Object) field.ErrorList {
	spec := field.NewPath("spec")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return validateControllerSelector(o.Spec.Selector, o.Spec.Template.Labels, spec)
	case *appsv1.ReplicaSet:
		return validateControllerSelector(o.Spec.Selector, o.Spec.Template.Labels, spec)
	case *appsv1.StatefulSet:
		return validateControllerSelector(o.Spec.Selector, o.Spec.Template.Labels, spec)
	case *appsv1.DaemonSet:
		return validateControllerSelector(o.Spec.Selector, o.Spec.Template.Labels, spec)
	case *policyv1.PodDisruptionBudget:
		return metav1validation.ValidateLabelSelector(o.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, spec.Child("selector"))
	case *networkingv1.NetworkPolicy:
		return validateNetworkPolicySelectors(&o.Spec, spec)
	}
	return nil
}

// validateNetworkPolicySelectors checks every label selector of a NetworkPolicy: podSelector, and
// the podSelector and namespaceSelector of each ingress and egress peer.
func validateNetworkPolicySelectors(np *networkingv1.NetworkPolicySpec, spec *field.Path) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&np.PodSelector, opts, spec.Child("podSelector"))
	peers := func(ps []networkingv1.NetworkPolicyPeer, path *field.Path) {
		for i, p := range ps {
			errs = append(errs, metav1validation.ValidateLabelSelector(p.PodSelector, opts, path.Index(i).Child("podSelector"))...)
			errs = append(errs, metav1validation.ValidateLabelSelector(p.NamespaceSelector, opts, path.Index(i).Child("namespaceSelector"))...)
		}
	}
	for i, r := range np.Ingress {
		peers(r.From, spec.Child("ingress").Index(i).Child("from"))
	}
	for i, r := range np.Egress {
		peers(r.To, spec.Child("egress").Index(i).Child("to"))
	}
	return errs
}

func validateControllerSelector(sel *metav1.LabelSelector, templateLabels map[string]string, spec *field.Path) field.ErrorList {
	path := spec.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(path, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, path)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return append(errs, field.Invalid(path, sel, "empty selector is invalid for this kind"))
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return errs // already reported by ValidateLabelSelector
	}
	if !selector.Matches(labels.Set(templateLabels)) {
		errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), templateLabels, "`selector` does not match template `labels`"))
	}
	return errs
}
