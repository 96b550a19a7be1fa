package controllers_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	sigyaml "sigs.k8s.io/yaml"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
)

// TestInvalidPlatformsAreRefused: each invalid GenAIPlatform is refused at create time by the CRD's
// schema and CEL rules, with a message naming the field.
func TestInvalidPlatformsAreRefused(t *testing.T) {
	ns := newNamespace(t)
	const gw = "gateway: {listener: {protocol: HTTP}}\n"
	cases := []struct {
		name, spec string
		field      string // must appear in the error message
	}{
		{"https without tls secret", "gateway: {listener: {protocol: HTTPS}}", "tlsSecretRef"},
		{"default protocol https needs tls secret", "gateway: {listener: {}}", "tlsSecretRef"},
		{"bad listener protocol", "gateway: {listener: {protocol: TCP}}", "spec.gateway.listener.protocol"},
		{"listener port out of range", "gateway: {listener: {protocol: HTTP, port: 70000}}", "spec.gateway.listener.port"},
		{"zero replicas", "gateway: {listener: {protocol: HTTP}, replicas: 0}", "spec.gateway.replicas"},
		{"duplicate provider", gw + "providers: [{name: a, type: OpenAI, credentials: {secretRef: {name: s}}}, {name: a, type: OpenAI, credentials: {secretRef: {name: s}}}]", "spec.providers[1]"},
		{"provider name not a DNS label", gw + "providers: [{name: Open_AI, type: OpenAI, credentials: {secretRef: {name: s}}}]", "spec.providers[0].name"},
		{"unknown provider type", gw + "providers: [{name: a, type: Mistral}]", "spec.providers[0].type"},
		{"azure without hostname", gw + "providers: [{name: a, type: AzureOpenAI, credentials: {secretRef: {name: s}}}]", "hostname is required"},
		{"openai-compatible without hostname", gw + "providers: [{name: a, type: OpenAICompatible}]", "hostname is required"},
		{"bedrock without aws", gw + "providers: [{name: a, type: AWSBedrock}]", "aws is required"},
		{"aws on openai", gw + "providers: [{name: a, type: OpenAI, credentials: {secretRef: {name: s}}, aws: {region: us-east-1}}]", "aws is required for type AWSBedrock and allowed only"},
		{"vertex without gcp", gw + "providers: [{name: a, type: GCPVertexAI}]", "gcp is required"},
		{"gcp-anthropic without gcp", gw + "providers: [{name: a, type: GCPAnthropic}]", "gcp is required"},
		{"openai without credentials", gw + "providers: [{name: a, type: OpenAI}]", "credentials is required"},
		{"azure with both key and entra", gw + "providers: [{name: a, type: AzureOpenAI, hostname: x.openai.azure.com, credentials: {secretRef: {name: s}}, azure: {clientID: c, tenantID: t, clientSecretRef: {name: s}}}]", "exactly one of credentials"},
		{"azure entra on openai", gw + "providers: [{name: a, type: OpenAI, credentials: {secretRef: {name: s}}, azure: {clientID: c, tenantID: t, clientSecretRef: {name: s}}}]", "azure is allowed only"},
		{"apiVersion on a type without one", gw + "providers: [{name: a, type: Anthropic, apiVersion: '2023-06-01', credentials: {secretRef: {name: s}}}]", "apiVersion is used only by types AzureOpenAI"},
		{"credentials on bedrock", gw + "providers: [{name: a, type: AWSBedrock, aws: {region: us-east-1}, credentials: {secretRef: {name: s}}}]", "credentials is not used"},
		{"model without backend", gw + "models: [{name: m}]", "selfHosted or at least one entry in routes"},
		{"route to unknown provider", gw + "models: [{name: m, routes: [{provider: nope}]}]", "spec.models[].routes[].provider"},
		{"duplicate model", gw + "providers: [{name: a, type: OpenAICompatible, hostname: h.example}]\nmodels: [{name: m, routes: [{provider: a}]}, {name: m, routes: [{provider: a}]}]", "spec.models[1]"},
		{"model name with space", gw + "providers: [{name: a, type: OpenAICompatible, hostname: h.example}]\nmodels: [{name: 'my model', routes: [{provider: a}]}]", "spec.models[0].name"},
		{"negative weight", gw + "providers: [{name: a, type: OpenAICompatible, hostname: h.example}]\nmodels: [{name: m, routes: [{provider: a, weight: -1}]}]", "spec.models[0].routes[0].weight"},
		{"priority too high", gw + "providers: [{name: a, type: OpenAICompatible, hostname: h.example}]\nmodels: [{name: m, routes: [{provider: a, priority: 99}]}]", "spec.models[0].routes[0].priority"},
		{"placement in unknown cluster", gw + "models: [{name: m, selfHosted: {storageUri: 'hf://x/y', placements: [{cluster: nope, nodePool: p}]}}]", "placements[].cluster"},
		{"placement in unknown node pool", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: q}]}}]", "placements[].nodePool"},
		{"duplicate placement", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p}, {cluster: c, nodePool: p}]}}]", "placements[1]"},
		{"two local model clusters in one namespace", gw + "modelClusters: [{name: a}, {name: b}]", "model clusters in this cluster (no kubeconfigSecretRef) need distinct namespaces"},
		{"duplicate model cluster", gw + "modelClusters: [{name: c}, {name: c}]", "spec.modelClusters[1]"},
		{"duplicate node pool", gw + "modelClusters: [{name: c, nodePools: [{name: p}, {name: p}]}]", "nodePools[1]"},
		{"model cluster name not a DNS label", gw + "modelClusters: [{name: GPU.East}]", "spec.modelClusters[0].name"},
		{"storage uri scheme", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'ftp://x', placements: [{cluster: c, nodePool: p}]}}]", "storageUri"},
		{"token and storage both", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'hf://x/y', credentialsSecretRef: {name: t}, storage: {huggingFace: {tokenSecretRef: {name: t}}}, placements: [{cluster: c, nodePool: p}]}}]", "set one of credentialsSecretRef and storage"},
		{"hf token on s3 uri", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 's3://b/m', credentialsSecretRef: {name: t}, placements: [{cluster: c, nodePool: p}]}}]", "used only for an hf:// storageUri"},
		{"two storage kinds", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 's3://b/m', storage: {s3: {secretRef: {name: a}}, gcs: {secretRef: {name: g}}}, placements: [{cluster: c, nodePool: p}]}}]", "exactly one of huggingFace, s3, gcs and azureBlob"},
		{"empty storage", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 's3://b/m', storage: {}, placements: [{cluster: c, nodePool: p}]}}]", "exactly one of huggingFace, s3, gcs and azureBlob"},
		{"s3 credentials on gs uri", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'gs://b/m', storage: {s3: {secretRef: {name: a}}}, placements: [{cluster: c, nodePool: p}]}}]", "storage.s3 needs an s3:// storageUri"},
		{"gcs credentials on s3 uri", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 's3://b/m', storage: {gcs: {secretRef: {name: g}}}, placements: [{cluster: c, nodePool: p}]}}]", "storage.gcs needs a gs:// storageUri"},
		{"azure credentials on hf uri", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'hf://x/y', storage: {azureBlob: {secretRef: {name: z}}}, placements: [{cluster: c, nodePool: p}]}}]", "storage.azureBlob needs an https://"},
		{"s3 endpoint with scheme", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 's3://b/m', storage: {s3: {secretRef: {name: a}, endpoint: 'https://minio:9000'}}, placements: [{cluster: c, nodePool: p}]}}]", "endpoint"},
		{"pull secret without name", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'oci://r/m:1', imagePullSecrets: [{}], placements: [{cluster: c, nodePool: p}]}}]", "imagePullSecrets[0].name"},
		{"tls secret mode without secret", gw + "modelClusters: [{name: c, tls: {mode: Secret}}]", "secretRef is required for tls.mode Secret"},
		{"tls secret ref in operator mode", gw + "modelClusters: [{name: c, tls: {secretRef: {name: s}}}]", "secretRef is required for tls.mode Secret and allowed only for it"},
		{"tls unknown mode", gw + "modelClusters: [{name: c, tls: {mode: Mesh}}]", "spec.modelClusters[0].tls.mode"},
		{"tls hostname not a DNS name", gw + "modelClusters: [{name: c, tls: {hostname: 'Tier_Two'}}]", "spec.modelClusters[0].tls.hostname"},
		{"key rotation period too short", gw + "modelClusters: [{name: c, keyRotationPeriod: 30m}]", "keyRotationPeriod must be at least 1h"},
		{"max below min replicas", gw + "modelClusters: [{name: c, nodePools: [{name: p}]}]\nmodels: [{name: m, selfHosted: {storageUri: 'hf://x/y', placements: [{cluster: c, nodePool: p, minReplicas: 3, maxReplicas: 2}]}}]", "maxReplicas must be at least minReplicas"},
		{"self-hosted without placements", gw + "models: [{name: m, selfHosted: {storageUri: 'hf://x/y', placements: []}}]", "placements"},
		{"limit for unknown model", "gateway: {listener: {protocol: HTTP}, limits: [{name: l, tokens: 10, per: Hour, models: [nope]}]}", "spec.gateway.limits[].models"},
		{"per-client limit without client auth", "gateway: {listener: {protocol: HTTP}, limits: [{name: l, tokens: 10, per: Hour, perClient: true}]}", "perClient needs spec.gateway.clientAuth"},
		{"limit period", "gateway: {listener: {protocol: HTTP}, limits: [{name: l, tokens: 10, per: Year}]}", "spec.gateway.limits[0].per"},
		{"zero tokens", "gateway: {listener: {protocol: HTTP}, limits: [{name: l, tokens: 0, per: Hour}]}", "spec.gateway.limits[0].tokens"},
		{"empty client auth", "gateway: {listener: {protocol: HTTP}, clientAuth: {}}", "apiKeys or jwt"},
		{"api keys and jwt on the same header", "gateway: {listener: {protocol: HTTP}, clientAuth: {apiKeys: {secretRef: {name: k}}, jwt: {issuer: 'https://x', jwksURI: 'https://x/jwks'}}}", "spec.gateway.clientAuth.apiKeys.header must name a header other than Authorization"},
		{"api keys in Authorization and jwt", "gateway: {listener: {protocol: HTTP}, clientAuth: {apiKeys: {secretRef: {name: k}, header: Authorization}, jwt: {issuer: 'https://x', jwksURI: 'https://x/jwks'}}}", "other than Authorization"},
		{"jwt without issuer", "gateway: {listener: {protocol: HTTP}, clientAuth: {jwt: {jwksURI: 'https://x/jwks'}}}", "spec.gateway.clientAuth.jwt.issuer"},
		{"tracing sampling ratio", gw + "observability: {tracing: {otlpEndpoint: 'http://otel:4317', samplingRatio: '2'}}", "spec.observability.tracing.samplingRatio"},
		{"secret ref without name", gw + "providers: [{name: a, type: OpenAI, credentials: {secretRef: {key: k}}}]", "spec.providers[0].credentials.secretRef.name"},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &platformv1.GenAIPlatform{}
			if err := sigyaml.Unmarshal([]byte(tc.spec), &p.Spec); err != nil {
				t.Fatalf("spec yaml: %v", err)
			}
			p.Namespace = ns
			p.Name = "invalid-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			err := k8s.Create(testCtx, p)
			if err == nil {
				t.Fatalf("created; want refused naming %q", tc.field)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %q:\n%v", tc.field, err)
			}
		})
	}

	// A long platform name is refused too: it is used in labels.
	p := &platformv1.GenAIPlatform{}
	p.Namespace, p.Name = ns, strings.Repeat("a", 64)
	p.Spec.Gateway.Listener.Protocol = platformv1.ListenerHTTP
	if err := k8s.Create(testCtx, p); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("a 64-character name should be refused naming metadata.name: %v", err)
	}
}

// TestValidEdgeCasesAreAdmitted: specs that are valid but leave optional fields out are admitted (a CEL rule
// that reads an absent field refuses them with "no such key").
func TestValidEdgeCasesAreAdmitted(t *testing.T) {
	ns := newNamespace(t)
	for i, spec := range []string{
		"gateway: {listener: {protocol: HTTP}, limits: [{name: l, tokens: 10, per: Hour}]}",
		"gateway: {listener: {protocol: HTTP}, limits: [{name: l, tokens: 10, per: Hour, perClient: false}]}",
		"gateway: {listener: {protocol: HTTP}}\nmodelClusters: [{name: c, tls: {}}]",
	} {
		p := &platformv1.GenAIPlatform{}
		if err := sigyaml.Unmarshal([]byte(spec), &p.Spec); err != nil {
			t.Fatal(err)
		}
		p.Namespace, p.Name = ns, fmt.Sprintf("valid-%d", i)
		if err := k8s.Create(testCtx, p); err != nil {
			t.Errorf("refused %q: %v", spec, err)
		}
	}
}
