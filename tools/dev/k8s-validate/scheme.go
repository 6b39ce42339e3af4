package main

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// KubernetesVersion is the API version this tool proves manifests against: the version of the
// project's EKS clusters (lib/config/kubernetes-versions.ts). The k8s.io/api, k8s.io/apimachinery
// and k8s.io/pod-security-admission modules in go.mod are pinned to the matching v0.35.x line.
const KubernetesVersion = "1.35"

// supportedGroupVersions are the API group/versions whose built-in kinds the decoder knows, in
// the order they are named in messages. Everything else (custom resources, removed versions such
// as autoscaling/v2beta2, typos) is reported as an unknown apiVersion/kind.
var supportedGroupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	appsv1.SchemeGroupVersion,
	batchv1.SchemeGroupVersion,
	policyv1.SchemeGroupVersion,
	autoscalingv2.SchemeGroupVersion,
	networkingv1.SchemeGroupVersion,
}

// newScheme registers the typed objects of k8s.io/api for supportedGroupVersions, and nothing
// else: no internal versions, no conversions, no defaulting.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		batchv1.AddToScheme,
		policyv1.AddToScheme,
		autoscalingv2.AddToScheme,
		networkingv1.AddToScheme,
	} {
		utilruntime.Must(add(s))
	}
	return s
}

// clusterScoped lists the kinds of supportedGroupVersions that live outside any namespace.
var clusterScoped = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                        true,
	{Group: "", Kind: "Node"}:                             true,
	{Group: "", Kind: "PersistentVolume"}:                 true,
	{Group: "", Kind: "ComponentStatus"}:                  true,
	{Group: networkingv1.GroupName, Kind: "IngressClass"}: true,
}
