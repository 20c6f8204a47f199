// Command k8s-check renders kustomizations (kustomize's own engine, krusty) and decodes every
// object they hold strictly into the Kubernetes API types of k8s.io/api: an unknown or duplicate
// field, a value of the wrong type or an unknown kind fails the check, offline, with no cluster.
//
//	k8s-check DIR...   prints the rendered YAML of each kustomization; exit 1 when an object
//	                   does not decode, 2 when a kustomization does not render
//
// Objects of the custom resources this deployment uses (the MongoDB Community Operator's) are not
// Kubernetes API types; they are passed through, and tests/deploy/kubernetes.test.ts checks them.
// npm test builds it into .data/bin (devkit/src/tools.mjs).
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// customGroups are API groups of custom resources the manifests may hold (passed through).
var customGroups = []string{"mongodbcommunity.mongodb.com/"}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-check KUSTOMIZATION_DIR...")
		os.Exit(2)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, autoscalingv2.AddToScheme, corev1.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	kustomizer := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	failed := false
	for i, dir := range os.Args[1:] {
		resources, err := kustomizer.Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", dir, err)
			os.Exit(2)
		}
		out, err := resources.AsYaml()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", dir, err)
			os.Exit(2)
		}
		for _, doc := range bytes.Split(out, []byte("\n---\n")) {
			if custom(doc) {
				continue
			}
			if _, gvk, err := decoder.Decode(doc, nil, nil); err != nil {
				failed = true
				fmt.Fprintf(os.Stderr, "%s: %v: %v\n", dir, gvk, err)
			}
		}
		if i > 0 {
			os.Stdout.WriteString("---\n")
		}
		os.Stdout.Write(out)
	}
	if failed {
		os.Exit(1)
	}
}

// custom reports whether doc is an object of one of customGroups.
func custom(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if v, ok := strings.CutPrefix(line, "apiVersion: "); ok {
			for _, g := range customGroups {
				if strings.HasPrefix(strings.TrimSpace(v), g) {
					return true
				}
			}
			return false
		}
	}
	return false
}
