package main

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
)

func ptr[T any](v T) *T { return &v }

func TestCompliantManifestPasses(t *testing.T) {
	res := validateString(t, testValidator(t), compliantManifest(t))
	requireNoFindings(t, res)
	if res.Objects != 6 {
		t.Errorf("Objects = %d, want 6 (Namespace, ServiceAccount, Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler)", res.Objects)
	}
}

// The compliant Deployment still passes after the round trip through the typed object that the
// mutation tests below rely on, so each of their findings is caused by the mutation alone.
func TestCompliantDeploymentRoundTripPasses(t *testing.T) {
	d := compliantDeployment(t)
	c := d.Spec.Template.Spec.Containers[0].SecurityContext
	if !*c.ReadOnlyRootFilesystem || *c.AllowPrivilegeEscalation || *c.RunAsUser == 0 || !*c.RunAsNonRoot ||
		!reflect.DeepEqual(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || c.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Fatalf("fixture is not the compliant one: %+v", c)
	}
	requireNoFindings(t, validateString(t, testValidator(t), toYAML(t, d)))
}

// Each single mutation of the compliant Deployment must fail Pod Security "restricted" with
// exactly the upstream checks named, the way the upstream pod-security-admission fixtures pair a
// passing pod with failing variants. At "restricted", upstream replaces some baseline checks by
// their stricter restricted versions (capabilities, hostPath volumes -> "restricted volume
// types"), so each mutation is reported once.
func TestPodSecurityRestrictedMutationsFail(t *testing.T) {
	container := func(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }
	podSpec := func(d *appsv1.Deployment) *corev1.PodSpec { return &d.Spec.Template.Spec }
	cases := []struct {
		name        string
		mutate      func(d *appsv1.Deployment)
		wantReasons []string // upstream ForbiddenReason of each failing check
		wantDetail  string   // part of the upstream detail
	}{
		{"privileged", func(d *appsv1.Deployment) { container(d).SecurityContext.Privileged = ptr(true) },
			[]string{"privileged"}, `container "web" must not set securityContext.privileged=true`},
		{"allowPrivilegeEscalation true", func(d *appsv1.Deployment) { container(d).SecurityContext.AllowPrivilegeEscalation = ptr(true) },
			[]string{"allowPrivilegeEscalation != false"}, `container "web" must set securityContext.allowPrivilegeEscalation=false`},
		{"allowPrivilegeEscalation missing", func(d *appsv1.Deployment) { container(d).SecurityContext.AllowPrivilegeEscalation = nil },
			[]string{"allowPrivilegeEscalation != false"}, `container "web"`},
		{"capabilities add NET_RAW", func(d *appsv1.Deployment) {
			container(d).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
		}, []string{"unrestricted capabilities"}, `container "web" must not include "NET_RAW" in securityContext.capabilities.add`},
		{"capabilities without drop", func(d *appsv1.Deployment) { container(d).SecurityContext.Capabilities.Drop = nil },
			[]string{"unrestricted capabilities"}, `must set securityContext.capabilities.drop=["ALL"]`},
		{"capabilities drop NET_RAW instead of ALL", func(d *appsv1.Deployment) {
			container(d).SecurityContext.Capabilities.Drop = []corev1.Capability{"NET_RAW"}
		}, []string{"unrestricted capabilities"}, `drop=["ALL"]`},
		{"container runAsNonRoot false", func(d *appsv1.Deployment) { container(d).SecurityContext.RunAsNonRoot = ptr(false) },
			[]string{"runAsNonRoot != true"}, `container "web" must not set securityContext.runAsNonRoot=false`},
		{"runAsNonRoot unset everywhere", func(d *appsv1.Deployment) {
			container(d).SecurityContext.RunAsNonRoot = nil
			podSpec(d).SecurityContext.RunAsNonRoot = nil
		}, []string{"runAsNonRoot != true"}, "securityContext.runAsNonRoot=true"},
		{"container runAsUser 0", func(d *appsv1.Deployment) { container(d).SecurityContext.RunAsUser = ptr(int64(0)) },
			[]string{"runAsUser=0"}, `container "web" must not set runAsUser=0`},
		{"pod runAsUser 0", func(d *appsv1.Deployment) { podSpec(d).SecurityContext.RunAsUser = ptr(int64(0)) },
			[]string{"runAsUser=0"}, "pod must not set runAsUser=0"},
		{"seccompProfile Unconfined", func(d *appsv1.Deployment) {
			container(d).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, []string{"seccompProfile"}, `"Unconfined"`},
		{"seccompProfile missing", func(d *appsv1.Deployment) {
			container(d).SecurityContext.SeccompProfile = nil
			podSpec(d).SecurityContext.SeccompProfile = nil
		}, []string{"seccompProfile"}, `securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`},
		{"hostNetwork", func(d *appsv1.Deployment) { podSpec(d).HostNetwork = true },
			[]string{"host namespaces"}, "hostNetwork=true"},
		{"hostPID", func(d *appsv1.Deployment) { podSpec(d).HostPID = true },
			[]string{"host namespaces"}, "hostPID=true"},
		{"hostIPC", func(d *appsv1.Deployment) { podSpec(d).HostIPC = true },
			[]string{"host namespaces"}, "hostIPC=true"},
		{"hostPath volume", func(d *appsv1.Deployment) {
			podSpec(d).Volumes = []corev1.Volume{{Name: "docker-sock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}}}
		}, []string{"restricted volume types"}, `volume "docker-sock" uses restricted volume type "hostPath"`},
		{"hostPort", func(d *appsv1.Deployment) { container(d).Ports[0].HostPort = 8080 },
			[]string{"hostPort"}, `container "web" uses hostPort 8080`},
		{"privileged init container", func(d *appsv1.Deployment) {
			init := container(d).DeepCopy()
			init.Name = "init"
			init.SecurityContext.Privileged = ptr(true)
			podSpec(d).InitContainers = []corev1.Container{*init}
		}, []string{"privileged"}, `container "init"`},
	}
	v := testValidator(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := compliantDeployment(t)
			tc.mutate(d)
			res := validateString(t, v, toYAML(t, d))
			if got := podSecurityReasons(res, "Deployment/sample-web"); !reflect.DeepEqual(got, tc.wantReasons) {
				t.Errorf("pod-security reasons = %q, want %q; findings:\n%s", got, tc.wantReasons, dump(res))
			}
			requireFinding(t, res, "Deployment/sample-web", CheckPodSecurity, tc.wantDetail)
			if s := checks(res, CheckSchema); len(s) > 0 {
				t.Errorf("mutation should not break the schema: %q", s)
			}
		})
	}
}

// Every kind that carries a pod spec is evaluated, not only Deployment.
func TestPodSecurityCoversEveryPodCarryingKind(t *testing.T) {
	v := testValidator(t)
	for _, privileged := range []bool{false, true} {
		d := compliantDeployment(t)
		if privileged {
			d.Spec.Template.Spec.Containers[0].SecurityContext.Privileged = ptr(true)
		}
		tmpl := d.Spec.Template
		sel := d.Spec.Selector
		om := func(kind string) metav1.ObjectMeta {
			return metav1.ObjectMeta{Name: strings.ToLower(kind), Namespace: "sample-web"}
		}
		objects := map[string]any{
			"Pod": &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: om("Pod"), Spec: tmpl.Spec},
			"PodTemplate": &corev1.PodTemplate{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodTemplate"},
				ObjectMeta: om("PodTemplate"), Template: tmpl},
			"ReplicationController": &corev1.ReplicationController{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
				ObjectMeta: om("ReplicationController"), Spec: corev1.ReplicationControllerSpec{Selector: sel.MatchLabels, Template: &tmpl}},
			"ReplicaSet": &appsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
				ObjectMeta: om("ReplicaSet"), Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl}},
			"StatefulSet": &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
				ObjectMeta: om("StatefulSet"), Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl}},
			"DaemonSet": &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
				ObjectMeta: om("DaemonSet"), Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}},
			"Job": &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
				ObjectMeta: om("Job"), Spec: batchv1.JobSpec{Template: tmpl}},
			"CronJob": &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
				ObjectMeta: om("CronJob"), Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
		}
		for kind, obj := range objects {
			res := validateString(t, v, toYAML(t, obj))
			id := kind + "/" + strings.ToLower(kind)
			if res.Objects != 1 {
				t.Errorf("%s: Objects = %d, want 1", kind, res.Objects)
			}
			if s := checks(res, CheckSchema); len(s) > 0 {
				t.Errorf("%s: unexpected schema findings %q", kind, s)
			}
			got := podSecurityReasons(res, id)
			if privileged && !reflect.DeepEqual(got, []string{"privileged"}) {
				t.Errorf("privileged %s: pod-security reasons = %q, want [privileged]", kind, got)
			}
			if !privileged && len(got) > 0 {
				t.Errorf("compliant %s: pod-security reasons = %q, want none", kind, got)
			}
		}
	}
}

// --psa-version reaches the evaluator: the restricted capabilities check only exists from v1.22 on.
func TestPodSecurityVersionIsEvaluated(t *testing.T) {
	d := compliantDeployment(t)
	d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Drop = nil
	manifest := toYAML(t, d)

	v121, err := NewValidator(psaapi.MajorMinorVersion(1, 21))
	if err != nil {
		t.Fatal(err)
	}
	if got := podSecurityReasons(validateString(t, v121, manifest), "Deployment/sample-web"); len(got) != 0 {
		t.Errorf("restricted v1.21: reasons = %q, want none (capabilities were not restricted before v1.22)", got)
	}
	if got := podSecurityReasons(validateString(t, testValidator(t), manifest), "Deployment/sample-web"); !reflect.DeepEqual(got, []string{"unrestricted capabilities"}) {
		t.Errorf("restricted v1.35: reasons = %q, want [unrestricted capabilities]", got)
	}
}

func TestPodSecurityVersionNewerThanBuildIsRejected(t *testing.T) {
	if _, err := NewValidator(psaapi.MajorMinorVersion(1, 36)); err == nil {
		t.Error("NewValidator(v1.36) succeeded; the pinned pod-security-admission only knows up to v1.35")
	}
	v, err := NewValidator(psaapi.LatestVersion())
	if err != nil {
		t.Fatal(err)
	}
	if v.podSecurity.version != psaapi.MajorMinorVersion(1, 35) {
		t.Errorf("latest resolved to %s, want v1.35", v.podSecurity.version)
	}
}

func TestNamespaceLabels(t *testing.T) {
	ns := compliantDocument(t, "Namespace")
	const enforce = "    pod-security.kubernetes.io/enforce: restricted\n"
	const enforceVersion = "    pod-security.kubernetes.io/enforce-version: v1.35\n"
	cases := []struct {
		name    string
		doc     string
		wantMsg []string // substrings of one namespace-label finding; nil means no finding
	}{
		{"compliant", ns, nil},
		{"enforce label missing", replaceOnce(t, ns, enforce, ""), []string{"pod-security.kubernetes.io/enforce is missing"}},
		{"enforce baseline", replaceOnce(t, ns, enforce, "    pod-security.kubernetes.io/enforce: baseline\n"),
			[]string{`pod-security.kubernetes.io/enforce is "baseline", want "restricted"`}},
		{"enforce privileged", replaceOnce(t, ns, enforce, "    pod-security.kubernetes.io/enforce: privileged\n"),
			[]string{`is "privileged", want "restricted"`}},
		{"enforce invalid level", replaceOnce(t, ns, enforce, "    pod-security.kubernetes.io/enforce: Restricted\n"),
			[]string{"pod-security.kubernetes.io/enforce", `must be one of privileged, baseline, restricted`}},
		{"enforce-version older than evaluated", replaceOnce(t, ns, enforceVersion, "    pod-security.kubernetes.io/enforce-version: v1.34\n"),
			[]string{`enforce-version is "v1.34", but this run evaluated pods at v1.35`}},
		{"enforce-version invalid", replaceOnce(t, ns, enforceVersion, "    pod-security.kubernetes.io/enforce-version: \"1.35\"\n"),
			[]string{"enforce-version", `must be "latest" or "v1.x"`}},
		{"enforce-version latest", replaceOnce(t, ns, enforceVersion, "    pod-security.kubernetes.io/enforce-version: latest\n"), nil},
		{"enforce-version unset", replaceOnce(t, ns, enforceVersion, ""), nil},
		{"no labels at all", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sample-web\n", []string{"enforce is missing"}},
	}
	v := testValidator(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := validateString(t, v, tc.doc)
			if tc.wantMsg == nil {
				requireNoFindings(t, res)
				return
			}
			requireFinding(t, res, "Namespace/sample-web", CheckNamespaceLabel, tc.wantMsg...)
			if s := checks(res, CheckSchema); len(s) > 0 {
				t.Errorf("unexpected schema findings %q", s)
			}
		})
	}
}
