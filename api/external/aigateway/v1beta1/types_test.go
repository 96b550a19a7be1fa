package v1beta1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// These objects are sent with server-side apply, where every field sent is a field owned (and a zero
// value sent is a value set). So a zero value must marshal to its required fields only.
func TestZeroValuesMarshalOnlyRequiredFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"AIGatewayRouteSpec", AIGatewayRouteSpec{}, `{"rules":null}`},
		{"AIGatewayRouteRule", AIGatewayRouteRule{}, `{}`},
		{"AIGatewayRouteRuleBackendRef", AIGatewayRouteRuleBackendRef{}, `{"name":""}`},
		{"AIGatewayRouteRuleMatch", AIGatewayRouteRuleMatch{}, `{}`},
		{"LLMRequestCost", LLMRequestCost{}, `{"metadataKey":"","type":""}`},
		{"AIServiceBackendSpec", AIServiceBackendSpec{}, `{"schema":{"name":""},"backendRef":{"name":""}}`},
		{"HTTPHeaderMutation", HTTPHeaderMutation{}, `{}`},
		{"HTTPBodyMutation", HTTPBodyMutation{}, `{}`},
		{"BackendSecurityPolicySpec", BackendSecurityPolicySpec{}, `{"type":""}`},
		{"BackendSecurityPolicyAWSCredentials", BackendSecurityPolicyAWSCredentials{}, `{"region":""}`},
		{"AWSCredentialsFile", AWSCredentialsFile{}, `{"secretRef":null}`},
		{"BackendSecurityPolicyAzureCredentials", BackendSecurityPolicyAzureCredentials{}, `{"clientID":"","tenantID":""}`},
		{"BackendSecurityPolicyGCPCredentials", BackendSecurityPolicyGCPCredentials{}, `{"projectName":"","region":""}`},
		{"BackendSecurityPolicyCredentialOverride", BackendSecurityPolicyCredentialOverride{}, `{}`},
		{"GatewayConfigSpec", GatewayConfigSpec{}, `{}`},
		{"GatewayConfigExtProc", GatewayConfigExtProc{}, `{}`},
		{"GatewayConfigExtProcKubernetes", GatewayConfigExtProcKubernetes{}, `{}`},
		{"AIGatewayStatus", AIGatewayStatus{}, `{}`},
		{"GatewayConfigStatus", GatewayConfigStatus{}, `{}`},
		{"AIGatewayRoute", AIGatewayRoute{}, `{"metadata":{},"spec":{"rules":null},"status":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("json.Marshal(%s{}) = %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

// Optional scalars are pointers so that a deliberate zero (weight 0, priority 0) is still sent.
func TestSetZeroPointersAreSent(t *testing.T) {
	zero, prio := int32(0), uint32(0)
	got, err := json.Marshal(AIGatewayRouteRuleBackendRef{Name: "b", Weight: &zero, Priority: &prio})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"b","weight":0,"priority":0}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// A typical rendered route, policy and backend marshal to exactly what the upstream examples look like.
func TestRenderedObjectsMarshal(t *testing.T) {
	exact := gwapiv1.HeaderMatchExact
	one, prio := int32(1), uint32(1)
	route := AIGatewayRouteSpec{
		ParentRefs: []gwapiv1.ParentReference{{Name: "gw"}},
		Rules: []AIGatewayRouteRule{{
			Matches: []AIGatewayRouteRuleMatch{{Headers: []gwapiv1.HTTPHeaderMatch{
				{Type: &exact, Name: AIModelHeaderKey, Value: "gpt-4o"},
			}}},
			BackendRefs: []AIGatewayRouteRuleBackendRef{{Name: "openai", ModelNameOverride: "gpt-4o-2024", Weight: &one, Priority: &prio}},
		}},
		LLMRequestCosts: []LLMRequestCost{{MetadataKey: "llm_total_token", Type: LLMRequestCostTypeTotalToken}},
	}
	assertJSON(t, route, `{"parentRefs":[{"name":"gw"}],"rules":[{"backendRefs":[{"name":"openai","modelNameOverride":"gpt-4o-2024","weight":1,"priority":1}],`+
		`"matches":[{"headers":[{"type":"Exact","name":"x-ai-eg-model","value":"gpt-4o"}]}]}],"llmRequestCosts":[{"metadataKey":"llm_total_token","type":"TotalToken"}]}`)

	group, kind := gwapiv1.Group("gateway.envoyproxy.io"), gwapiv1.Kind("Backend")
	backend := AIServiceBackendSpec{
		APISchema:  VersionedAPISchema{Name: APISchemaOpenAI},
		BackendRef: gwapiv1.BackendObjectReference{Group: &group, Kind: &kind, Name: "openai"},
	}
	assertJSON(t, backend, `{"schema":{"name":"OpenAI"},"backendRef":{"group":"gateway.envoyproxy.io","kind":"Backend","name":"openai"}}`)

	policy := BackendSecurityPolicySpec{
		TargetRefs: []gwapiv1.LocalPolicyTargetReference{{Group: GroupName, Kind: "AIServiceBackend", Name: "openai"}},
		Type:       BackendSecurityPolicyTypeAPIKey,
		APIKey:     &BackendSecurityPolicyAPIKey{SecretRef: &SecretObjectReference{Name: "openai-key"}},
	}
	assertJSON(t, policy, `{"targetRefs":[{"group":"aigateway.envoyproxy.io","kind":"AIServiceBackend","name":"openai"}],"type":"APIKey","apiKey":{"secretRef":{"name":"openai-key"}}}`)
}

func assertJSON(t *testing.T, v any, want string) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Every field of this package's types is either omitempty or required by the upstream CRD: the lists below
// are the CRDs' "required" lists. A new field without omitempty fails here.
func TestOnlyRequiredFieldsLackOmitempty(t *testing.T) {
	required := map[string][]string{
		"AIGatewayRouteSpec":                    {"rules"},
		"AIGatewayRouteRuleBackendRef":          {"name"},
		"LLMRequestCost":                        {"metadataKey", "type"},
		"VersionedAPISchema":                    {"name"},
		"HTTPBodyField":                         {"path", "value"},
		"AIServiceBackendSpec":                  {"schema", "backendRef"},
		"BackendSecurityPolicySpec":             {"type"},
		"BackendSecurityPolicyAPIKey":           {"secretRef"},
		"BackendSecurityPolicyAzureAPIKey":      {"secretRef"},
		"BackendSecurityPolicyAnthropicAPIKey":  {"secretRef"},
		"BackendSecurityPolicyAWSCredentials":   {"region"},
		"AWSCredentialsFile":                    {"secretRef"},
		"AWSOIDCExchangeToken":                  {"awsRoleArn"}, // plus the inlined oidc
		"BackendSecurityPolicyOIDC":             {"oidc"},
		"BackendSecurityPolicyAzureCredentials": {"clientID", "tenantID"},
		"BackendSecurityPolicyGCPCredentials":   {"projectName", "region"},
		"GCPCredentialsFile":                    {"secretRef"},
		"GCPWorkloadIdentityFederationConfig":   {"projectID", "workloadIdentityPoolName", "workloadIdentityProviderName", "oidcExchangeToken"},
		"GCPServiceAccountImpersonationConfig":  {"serviceAccountName"},
		"CredentialFromDynamicMetadata":         {"namespace"},
		"GatewayConfigForwardProxy":             {"address"},
	}
	pkg := reflect.TypeFor[AIGatewayRoute]().PkgPath()
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != pkg || seen[typ] {
			return
		}
		seen[typ] = true
		var got []string
		for f := range typ.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || strings.Contains(opts, "inline") {
				walk(f.Type)
				continue
			}
			if !strings.Contains(opts, "omitempty") {
				got = append(got, name)
			}
			walk(f.Type)
		}
		if slices.Contains([]string{"AIGatewayRoute", "AIServiceBackend", "BackendSecurityPolicy", "GatewayConfig"}, typ.Name()) {
			return // spec and status are omitempty; metadata is ObjectMeta
		}
		want := required[typ.Name()]
		sort.Strings(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: fields without omitempty %v, want the CRD's required fields %v", typ.Name(), got, want)
		}
	}
	for _, obj := range []any{AIGatewayRoute{}, AIServiceBackend{}, BackendSecurityPolicy{}, GatewayConfig{}} {
		walk(reflect.TypeOf(obj))
	}
}

// When the real Envoy AI Gateway v1.1.0 CRDs are next to the checkout (../shared, as the envtest suite
// finds them), every json field of this package's types must exist in the CRD's v1beta1 schema at the same
// place, and every field without omitempty must be one the CRD requires. Types from other modules (Gateway
// API, Envoy Gateway, core/v1) are taken as they are: they may be newer than what the CRD was generated
// from (e.g. Envoy Gateway v1.9's OIDC provider settings, core/v1 1.37's VolumeMount), but their extra
// fields are optional and only sent when set.
func TestFieldsMatchUpstreamCRDs(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "..", "shared", "crds", "envoy-ai-gateway-v1.1.0")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("upstream CRDs not found (%v)", err)
	}
	for _, tc := range []struct {
		file string
		obj  any
	}{
		{"aigateway.envoyproxy.io_aigatewayroutes.yaml", AIGatewayRoute{}},
		{"aigateway.envoyproxy.io_aiservicebackends.yaml", AIServiceBackend{}},
		{"aigateway.envoyproxy.io_backendsecuritypolicies.yaml", BackendSecurityPolicy{}},
		{"aigateway.envoyproxy.io_gatewayconfigs.yaml", GatewayConfig{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal(data, &crd); err != nil {
				t.Fatal(err)
			}
			if crd.Spec.Group != GroupName || crd.Spec.Names.Kind != reflect.TypeOf(tc.obj).Name() {
				t.Fatalf("CRD %s/%s does not match type %T", crd.Spec.Group, crd.Spec.Names.Kind, tc.obj)
			}
			var schema *apiextensionsv1.JSONSchemaProps
			for _, v := range crd.Spec.Versions {
				if v.Name == GroupVersion.Version {
					schema = v.Schema.OpenAPIV3Schema
				}
			}
			if schema == nil {
				t.Fatalf("CRD has no %s version", GroupVersion.Version)
			}
			checkAgainstSchema(t, "", reflect.TypeOf(tc.obj), schema)
		})
	}
}

var (
	objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()
	timeType       = reflect.TypeFor[metav1.Time]()
)

func checkAgainstSchema(t *testing.T, path string, typ reflect.Type, s *apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == objectMetaType || typ == timeType:
		return
	case typ.Kind() == reflect.Struct && typ.PkgPath() != reflect.TypeFor[AIGatewayRoute]().PkgPath():
		return
	case typ.Kind() == reflect.Slice:
		if s.Items == nil || s.Items.Schema == nil {
			t.Errorf("%s: a list in Go, not in the CRD", path)
			return
		}
		checkAgainstSchema(t, path+"[]", typ.Elem(), s.Items.Schema)
		return
	case typ.Kind() != reflect.Struct:
		return
	}
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" || strings.Contains(opts, "inline") {
			if f.Type.Name() != "TypeMeta" && f.Type.Name() != "ListMeta" {
				checkAgainstSchema(t, path, f.Type, s)
			}
			continue
		}
		p := path + "." + name
		prop, ok := s.Properties[name]
		if !ok {
			t.Errorf("%s: not in the CRD schema", p)
			continue
		}
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && !slices.Contains(s.Required, name) {
			t.Errorf("%s: not omitempty, but optional in the CRD", p)
		}
		checkAgainstSchema(t, p, f.Type, &prop)
	}
}
