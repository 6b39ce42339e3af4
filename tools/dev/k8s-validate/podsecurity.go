package main

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// clusterPSAVersion is the Pod Security version a cluster of KubernetesVersion means by
// "latest", and the newest one the pinned k8s.io/pod-security-admission knows.
var clusterPSAVersion = func() psaapi.Version {
	v, err := psaapi.ParseVersion("v" + KubernetesVersion)
	if err != nil {
		panic(fmt.Sprintf("KubernetesVersion %q: %v", KubernetesVersion, err))
	}
	return v
}()

// podSecurity evaluates pod specs with the upstream Pod Security Admission checks, the code the
// API server's PodSecurity admission plugin runs.
type podSecurity struct {
	evaluator policy.Evaluator
	version   psaapi.Version
}

func newPodSecurity(version psaapi.Version) (*podSecurity, error) {
	if version.Latest() {
		version = clusterPSAVersion
	}
	if clusterPSAVersion.Older(version) {
		return nil, fmt.Errorf("the Pod Security version %s is newer than %s, the newest this build knows (k8s.io/pod-security-admission v0.%d.x)", version, clusterPSAVersion, clusterPSAVersion.Minor())
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	return &podSecurity{evaluator: evaluator, version: version}, nil
}

// podTemplate is a pod's metadata and spec, as found in a Pod or in a controller's template.
type podTemplate struct {
	meta     *metav1.ObjectMeta
	spec     *corev1.PodSpec
	metaPath *field.Path // path of the template's metadata; nil for a Pod's own
}

// podTemplates returns the pod specs an object carries: the kinds the PodSecurity admission
// plugin checks (Pod, and the pod controllers it warns and audits on).
func podTemplates(obj runtime.Object) []podTemplate {
	tmpl := func(t *corev1.PodTemplateSpec, path *field.Path) []podTemplate {
		return []podTemplate{{meta: &t.ObjectMeta, spec: &t.Spec, metaPath: path.Child("metadata")}}
	}
	spec := field.NewPath("spec")
	switch o := obj.(type) {
	case *corev1.Pod:
		return []podTemplate{{meta: &o.ObjectMeta, spec: &o.Spec}}
	case *corev1.PodTemplate:
		return tmpl(&o.Template, field.NewPath("template"))
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			return tmpl(o.Spec.Template, spec.Child("template"))
		}
	case *appsv1.Deployment:
		return tmpl(&o.Spec.Template, spec.Child("template"))
	case *appsv1.ReplicaSet:
		return tmpl(&o.Spec.Template, spec.Child("template"))
	case *appsv1.StatefulSet:
		return tmpl(&o.Spec.Template, spec.Child("template"))
	case *appsv1.DaemonSet:
		return tmpl(&o.Spec.Template, spec.Child("template"))
	case *batchv1.Job:
		return tmpl(&o.Spec.Template, spec.Child("template"))
	case *batchv1.CronJob:
		return tmpl(&o.Spec.JobTemplate.Spec.Template, spec.Child("jobTemplate", "spec", "template"))
	}
	return nil
}

// evaluate returns one message per failed check, "<reason> (<detail>)" as the API server words it.
func (p *podSecurity) evaluate(t podTemplate) []string {
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: p.version}
	var out []string
	for _, r := range p.evaluator.EvaluatePod(lv, t.meta, t.spec) {
		if r.Allowed {
			continue
		}
		msg := r.ForbiddenReason
		if r.ForbiddenDetail != "" {
			msg += " (" + r.ForbiddenDetail + ")"
		}
		out = append(out, msg)
	}
	return out
}

// namespaceLabelProblems checks a Namespace's pod-security.kubernetes.io labels: all of them must
// parse as the admission plugin parses them (api.PolicyToEvaluate), enforce must be "restricted",
// and enforce-version, when set, must be the version this run evaluated (or "latest").
func (p *podSecurity) namespaceLabelProblems(labels map[string]string) []string {
	var out []string
	_, errs := psaapi.PolicyToEvaluate(labels, psaapi.Policy{})
	for _, e := range errs {
		out = append(out, e.Error())
	}
	level, ok := labels[psaapi.EnforceLevelLabel]
	switch {
	case !ok:
		out = append(out, fmt.Sprintf("label %s is missing: pods in this namespace are not held to %q", psaapi.EnforceLevelLabel, psaapi.LevelRestricted))
	case level != string(psaapi.LevelRestricted):
		out = append(out, fmt.Sprintf("label %s is %q, want %q", psaapi.EnforceLevelLabel, level, psaapi.LevelRestricted))
	}
	if v, ok := labels[psaapi.EnforceVersionLabel]; ok {
		if parsed, err := psaapi.ParseVersion(v); err == nil && !parsed.Latest() && parsed != p.version {
			out = append(out, fmt.Sprintf("label %s is %q, but this run evaluated pods at %s", psaapi.EnforceVersionLabel, v, p.version))
		}
	}
	sort.Strings(out)
	return out
}
