// Package crd embeds the generated GenAIPlatform CRD, so that programs and tests can apply its schema
// defaults to a GenAIPlatform read from a file exactly as the API server would.
package crd

import (
	_ "embed"
	"fmt"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"sigs.k8s.io/yaml"
)

//go:embed bases/platform.genai.dev_genaiplatforms.yaml
var genAIPlatformCRD []byte

var (
	once       sync.Once
	structural *structuralschema.Structural
	loadErr    error
)

// Default applies the GenAIPlatform CRD's schema defaults to an object (as unstructured content).
func Default(obj map[string]any) error {
	once.Do(func() { structural, loadErr = load() })
	if loadErr != nil {
		return loadErr
	}
	defaulting.Default(obj, structural)
	return nil
}

func load() (*structuralschema.Structural, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(genAIPlatformCRD, &crd); err != nil {
		return nil, err
	}
	if len(crd.Spec.Versions) == 0 || crd.Spec.Versions[0].Schema == nil {
		return nil, fmt.Errorf("the GenAIPlatform CRD has no schema")
	}
	var internal apiextensionsinternal.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		return nil, err
	}
	return structuralschema.NewStructural(&internal)
}
