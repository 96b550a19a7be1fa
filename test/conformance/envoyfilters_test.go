package conformance

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// EMULATION of Envoy Gateway v1.9.1's Envoy between Envoy AI Gateway's router-level processor and its
// upstream filter, for the tenants' checks (tenants_test.go): no Envoy runs in this test. Each step does
// what the cited source says (Envoy Gateway: github.com/envoyproxy/gateway@v1.9.1 in the Go module cache;
// Envoy: github.com/envoyproxy/envoy), reads the objects as the API server stored them, and returns an
// error for any field it does not emulate rather than ignoring it. In order:
//
//  1. the route re-match on the processor's x-ai-eg-model (clear_route_cache), over the HTTPRoutes the AI
//     Gateway controller generated;
//  2. api_key_auth, configured from the Gateway's SecurityPolicy merged with the rule's (mergeType);
//  3. rbac, from the merged policy's authorization;
//  4. on a reply of Envoy's own, custom_response, from the Gateway's BackendTrafficPolicy
//     responseOverride (its reply then goes back through the processor: exchangeThrough).
//
// jwt_authn, ext_authz, the rate limit and everything else Envoy does are not emulated: a policy that
// uses them makes decide fail.

// filterDecision is what the emulated filters did with a request.
type filterDecision struct {
	route, rule string // the HTTPRoute and rule (section name) the route re-match selected
	ruleIndex   int    // the rule's index in its AIGatewayRoute (Envoy AI Gateway's backend names carry it)
	clientID    string // what api_key_auth forwarded
	reply       *providerReply
	details     string // the reply's response code details
}

type envoyGatewayFilters struct {
	st      *tierOne
	gateway gatewayRef
}

func (e *envoyGatewayFilters) decide(path string, headers map[string]string) (filterDecision, error) {
	var d filterDecision
	route, rule, err := e.matchRoute(path, headers)
	if err != nil {
		return d, err
	}
	d.route, d.rule, d.ruleIndex = route, rule, -1
	for _, mr := range e.st.modelRules() {
		if mr.route == route && mr.rule == rule {
			d.ruleIndex = mr.index
		}
	}
	if d.ruleIndex < 0 {
		return d, fmt.Errorf("HTTPRoute %s rule %s is no rule of AIGatewayRoute %s", route, rule, route)
	}
	spec, err := e.effectivePolicy(route, rule)
	if err != nil {
		return d, err
	}
	for k := range spec {
		if k != "apiKeyAuth" && k != "authorization" && k != "targetRefs" && k != "mergeType" {
			return d, fmt.Errorf("the security policy of rule %s/%s sets %s, which is not emulated", route, rule, k)
		}
	}
	if ak, ok := spec["apiKeyAuth"].(map[string]any); ok {
		id, status, err := e.apiKeyAuth(ak, headers)
		if err != nil {
			return d, err
		}
		if status != 0 {
			d.reply = &providerReply{Status: status, ContentType: "text/plain", Chunks: [][]byte{[]byte("Client authentication failed.")}}
			return d, e.customResponse(&d, headers)
		}
		d.clientID = id
	}
	if authz, ok := spec["authorization"].(map[string]any); ok {
		allowed, details, err := rbacDecide(authz, headers)
		if err != nil {
			return d, fmt.Errorf("rule %s/%s: %w", route, rule, err)
		}
		if !allowed {
			// rbac_filter.cc, decodeHeaders: sendLocalReply(Forbidden, "RBAC: access denied", ..., details).
			d.reply = &providerReply{Status: 403, ContentType: "text/plain", Chunks: [][]byte{[]byte("RBAC: access denied")}}
			d.details = details
			return d, e.customResponse(&d, headers)
		}
	}
	return d, nil
}

// matchRoute is Envoy's route match after the processor cleared the route cache, on the HTTPRoutes of
// the Gateway as Envoy AI Gateway generates them (internal/controller/ai_gateway_route.go, newHTTPRoute:
// one rule per AIGatewayRoute rule, with its name and header matches and a path prefix, then a
// route-not-found rule on the prefix alone). Of the rules whose match holds (exact header values, path
// prefix), the one with the most header matches is selected, as Gateway API's precedence orders them; a
// tie between header rules is an error (the platform's models have one rule each).
func (e *envoyGatewayFilters) matchRoute(path string, headers map[string]string) (route, rule string, err error) {
	best := -1
	var found []string
	for _, hr := range e.st.httpRoutes {
		if !attachedTo(hr, e.gateway) {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
		for _, r := range rules {
			matches, _ := dig(r, "matches").([]any)
			for _, m := range matches {
				n, ok, err := matchHolds(m, path, headers)
				if err != nil {
					return "", "", fmt.Errorf("HTTPRoute %s: %w", hr.GetName(), err)
				}
				if !ok || n < best {
					continue
				}
				if n > best {
					best, found = n, nil
				}
				found = append(found, hr.GetName()+"\x00"+fmt.Sprint(dig(r, "name")))
			}
		}
	}
	switch {
	case best < 0:
		return "", "", fmt.Errorf("no HTTPRoute rule matches %s with %s %q", path, modelHeader, headers[modelHeader])
	case best == 0:
		return "", "", fmt.Errorf("only route-not-found rules match %s %q", modelHeader, headers[modelHeader])
	case len(found) > 1:
		return "", "", fmt.Errorf("%d rules match %s %q: %q", len(found), modelHeader, headers[modelHeader], found)
	}
	route, rule, _ = strings.Cut(found[0], "\x00")
	return route, rule, nil
}

func attachedTo(hr *unstructured.Unstructured, gw gatewayRef) bool {
	refs, _, _ := unstructured.NestedSlice(hr.Object, "spec", "parentRefs")
	for _, ref := range refs {
		ns, _ := dig(ref, "namespace").(string)
		if ns == "" {
			ns = hr.GetNamespace()
		}
		if dig(ref, "name") == gw.name && ns == gw.namespace {
			return true
		}
	}
	return false
}

// matchHolds says whether an HTTPRoute match holds, and with how many header matches.
func matchHolds(m any, path string, headers map[string]string) (int, bool, error) {
	mm, _ := m.(map[string]any)
	for k := range mm {
		if k != "path" && k != "headers" {
			return 0, false, fmt.Errorf("a rule match on %s is not emulated", k)
		}
	}
	if pm, ok := mm["path"].(map[string]any); ok {
		typ, _ := pm["type"].(string)
		v, _ := pm["value"].(string)
		if typ != "" && typ != "PathPrefix" {
			return 0, false, fmt.Errorf("a path match of type %s is not emulated", typ)
		}
		// PathPrefix matches whole segments.
		if v != "/" && path != v && !strings.HasPrefix(path, strings.TrimSuffix(v, "/")+"/") {
			return 0, false, nil
		}
	}
	hms, _ := mm["headers"].([]any)
	for _, hm := range hms {
		typ, _ := dig(hm, "type").(string)
		if typ != "" && typ != "Exact" {
			return 0, false, fmt.Errorf("a header match of type %s is not emulated", typ)
		}
		v, ok := headers[strings.ToLower(fmt.Sprint(dig(hm, "name")))]
		if !ok || v != dig(hm, "value") {
			return 0, false, nil
		}
	}
	return len(hms), true, nil
}

// effectivePolicy is the SecurityPolicy spec Envoy Gateway applies to a route rule. The Gateway's policy
// applies to every route; a policy that targets the rule (sectionName) replaces it, or with mergeType is
// merged into it (internal/gatewayapi/securitypolicy.go, processSecurityPolicyForRoute and
// mergeSecurityPolicy: utils.Merge of the parent with the route's policy as the patch). The merge is
// emulated only where it is a union: the two policies must set different fields.
func (e *envoyGatewayFilters) effectivePolicy(route, rule string) (map[string]any, error) {
	var gateway *unstructured.Unstructured
	for _, sp := range e.st.policies {
		refs, _, _ := unstructured.NestedSlice(sp.Object, "spec", "targetRefs")
		for _, ref := range refs {
			switch {
			case dig(ref, "kind") == "Gateway" && dig(ref, "name") == e.gateway.name && dig(ref, "sectionName") == nil:
				if gateway != nil {
					return nil, fmt.Errorf("SecurityPolicies %s and %s both target the Gateway", gateway.GetName(), sp.GetName())
				}
				gateway = sp
			case dig(ref, "kind") == "HTTPRoute" && dig(ref, "name") == route && dig(ref, "sectionName") == nil:
				return nil, fmt.Errorf("SecurityPolicy %s targets all of HTTPRoute %s, which is not emulated", sp.GetName(), route)
			}
		}
	}
	own, err := e.st.accessPolicy(route, rule)
	if err != nil {
		return nil, err
	}
	spec, _, _ := unstructured.NestedMap(own.Object, "spec")
	if gateway == nil {
		return spec, nil
	}
	if spec["mergeType"] == nil {
		return spec, nil
	}
	if spec["mergeType"] != "StrategicMerge" && spec["mergeType"] != "JSONMerge" {
		return nil, fmt.Errorf("SecurityPolicy %s: mergeType %v is not emulated", own.GetName(), spec["mergeType"])
	}
	parent, _, _ := unstructured.NestedMap(gateway.Object, "spec")
	merged := map[string]any{}
	for k, v := range parent {
		merged[k] = v
	}
	for k, v := range spec {
		if _, both := parent[k]; both && k != "targetRefs" {
			return nil, fmt.Errorf("SecurityPolicies %s and %s both set %s: their merge is not emulated", gateway.GetName(), own.GetName(), k)
		}
		merged[k] = v
	}
	return merged, nil
}

// apiKeyAuth is Envoy's api_key_auth filter as Envoy Gateway configures it from a SecurityPolicy's
// apiKeyAuth: the credentials are the credentialRefs' Secrets, each data key a client, its value the
// key (internal/gatewayapi/securitypolicy.go, buildAPIKeyAuth); the key sources are extractFrom's
// headers, forwarding.header is forwardClientIDHeader and hide_credentials is sanitize
// (internal/xds/translator/api_key_auth.go, buildAPIKeyAuthFilterConfig). Envoy takes the key from the
// first source that has one, cutting a leading "Bearer " off a header's value
// (source/extensions/filters/http/api_key_auth/api_key_auth.cc, KeySources::Source::getKey); a missing or
// unknown key is refused with 401; else it sets the client id in the forwarding header and, with
// hide_credentials, removes the key's header. It returns the client id, or the refusal's status.
func (e *envoyGatewayFilters) apiKeyAuth(ak map[string]any, headers map[string]string) (string, int, error) {
	for k := range ak {
		if !slices.Contains([]string{"credentialRefs", "extractFrom", "forwardClientIDHeader", "sanitize"}, k) {
			return "", 0, fmt.Errorf("apiKeyAuth.%s is not emulated", k)
		}
	}
	clients := map[string]string{} // key -> client
	refs, _ := ak["credentialRefs"].([]any)
	for _, ref := range refs {
		name := fmt.Sprint(dig(ref, "name"))
		s := e.st.secrets[name]
		if s == nil || (dig(ref, "namespace") != nil && dig(ref, "namespace") != e.gateway.namespace) {
			return "", 0, fmt.Errorf("apiKeyAuth names Secret %s, which is not in %s", name, e.gateway.namespace)
		}
		for id, v := range s.Data {
			if _, dup := clients[string(v)]; dup {
				return "", 0, errors.New("duplicated API key: Envoy Gateway refuses the policy")
			}
			clients[string(v)] = id
		}
	}
	var keyHeader, key string
	froms, _ := ak["extractFrom"].([]any)
	for _, from := range froms {
		for k := range from.(map[string]any) {
			if k != "headers" {
				return "", 0, fmt.Errorf("apiKeyAuth.extractFrom.%s is not emulated", k)
			}
		}
		hs, _ := dig(from, "headers").([]any)
		for _, h := range hs {
			name := strings.ToLower(fmt.Sprint(h))
			if v, ok := headers[name]; ok && keyHeader == "" {
				keyHeader, key = name, strings.TrimPrefix(v, "Bearer ")
			}
		}
	}
	id, ok := clients[key]
	if keyHeader == "" || !ok {
		return "", 401, nil
	}
	if h, _ := ak["forwardClientIDHeader"].(string); h != "" {
		headers[strings.ToLower(h)] = id
	}
	if sanitize, _ := ak["sanitize"].(bool); sanitize {
		delete(headers, keyHeader)
	}
	return id, 0, nil
}

// rbacDecide is Envoy's rbac filter with the per-route matcher Envoy Gateway builds from a SecurityPolicy's
// authorization (internal/gatewayapi/securitypolicy.go, buildAuthorization: defaultAction Deny when unset;
// internal/xds/translator/authorization.go, buildRBACPerRoute): one matcher per rule, in order, that
// ANDs the rule's principal header matches, each an OR of exact, case-sensitive values
// (buildHeadersPredicate, buildHeaderPredicate with ignoreCase false, on HttpRequestHeaderMatchInput: an
// absent header matches nothing); the first rule that matches decides with its action, none: the
// default action. The actions are rbac Action protos named "ALLOW" and "DENY", whose name Envoy reports
// as the effective policy (source/extensions/filters/common/rbac/engine_impl.cc,
// RoleBasedAccessControlMatcherEngineImpl::handleAction), and a denial's response code details are
// rbac_access_denied_matched_policy[<that name>] (source/extensions/filters/http/rbac/rbac_filter.cc,
// decodeHeaders; source/extensions/filters/common/rbac/utility.cc, responseDetail).
func rbacDecide(authz map[string]any, headers map[string]string) (bool, string, error) {
	for k := range authz {
		if k != "rules" && k != "defaultAction" {
			return false, "", fmt.Errorf("authorization.%s is not emulated", k)
		}
	}
	action := "Deny"
	if da, ok := authz["defaultAction"].(string); ok {
		action = da
	}
	rules, _ := authz["rules"].([]any)
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		for k := range rm {
			if k != "name" && k != "action" && k != "principal" {
				return false, "", fmt.Errorf("authorization rule %d: %s is not emulated", i, k)
			}
		}
		principal, _ := rm["principal"].(map[string]any)
		for k := range principal {
			if k != "headers" {
				return false, "", fmt.Errorf("authorization rule %d: principal.%s is not emulated", i, k)
			}
		}
		hms, _ := principal["headers"].([]any)
		if len(hms) == 0 {
			return false, "", fmt.Errorf("authorization rule %d has no header match: not emulated", i)
		}
		matched := true
		for _, hm := range hms {
			v, present := headers[strings.ToLower(fmt.Sprint(dig(hm, "name")))]
			values, _ := dig(hm, "values").([]any)
			matched = matched && present && slices.Contains(values, any(v))
		}
		if matched {
			action = fmt.Sprint(rm["action"])
			break
		}
	}
	switch action {
	case "Allow":
		return true, "", nil
	case "Deny":
		return false, "rbac_access_denied_matched_policy[DENY]", nil
	}
	return false, "", fmt.Errorf("authorization action %q is not emulated", action)
}

// customResponse is Envoy's custom_response filter as Envoy Gateway configures it from the Gateway's
// BackendTrafficPolicy responseOverride (internal/xds/translator/custom_response.go,
// customResponseConfig): the rules in order; a rule matches a status of its statusCodes (Value or Range)
// and, with source Local, only a reply Envoy made itself (buildLocalReplyPredicate), which the emulated
// filters' replies are; the first match (buildResponseAction) replaces the body by the inline body as a
// substitution format string (body_format.text_format), sets Content-Type, and the status when given.
// Only the command operators %REQ(header)% (the request header, "-" when absent) and
// %RESPONSE_CODE_DETAILS% are emulated.
func (e *envoyGatewayFilters) customResponse(d *filterDecision, headers map[string]string) error {
	var overrides []any
	for _, btp := range e.st.traffic {
		ro, _, _ := unstructured.NestedSlice(btp.Object, "spec", "responseOverride")
		if len(ro) == 0 {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(btp.Object, "spec", "targetRefs")
		for _, ref := range refs {
			if dig(ref, "kind") != "Gateway" || dig(ref, "name") != e.gateway.name || dig(ref, "sectionName") != nil {
				return fmt.Errorf("BackendTrafficPolicy %s overrides responses on %v %v: not emulated", btp.GetName(), dig(ref, "kind"), dig(ref, "name"))
			}
		}
		if overrides != nil {
			return errors.New("two BackendTrafficPolicies override responses on the Gateway: not emulated")
		}
		overrides = ro
	}
	for i, o := range overrides {
		if src, _ := dig(o, "source").(string); src != "" && src != "Local" {
			continue // the reply is Envoy's own: a Backend rule does not match it
		}
		codes, _ := dig(o, "match", "statusCodes").([]any)
		if extra, _ := dig(o, "match").(map[string]any); len(extra) != 1 || len(codes) == 0 {
			return fmt.Errorf("responseOverride[%d].match other than statusCodes is not emulated", i)
		}
		if !slices.ContainsFunc(codes, func(c any) bool { return statusMatches(c, d.reply.Status) }) {
			continue
		}
		resp, _ := dig(o, "response").(map[string]any)
		for k := range resp {
			if k != "body" && k != "contentType" && k != "statusCode" {
				return fmt.Errorf("responseOverride[%d].response.%s is not emulated", i, k)
			}
		}
		if body, ok := resp["body"].(map[string]any); ok {
			if t, _ := body["type"].(string); t != "" && t != "Inline" {
				return fmt.Errorf("responseOverride[%d]: a %s body is not emulated", i, t)
			}
			out, err := substitute(fmt.Sprint(body["inline"]), headers, d.details)
			if err != nil {
				return fmt.Errorf("responseOverride[%d]: %w", i, err)
			}
			d.reply.Chunks = [][]byte{[]byte(out)}
		}
		if ct, ok := resp["contentType"].(string); ok {
			d.reply.ContentType = ct
		}
		if sc, ok := resp["statusCode"].(int64); ok {
			d.reply.Status = int(sc)
		}
		return nil
	}
	return nil
}

func statusMatches(c any, status int) bool {
	switch dig(c, "type") {
	case "Value", nil:
		v, _ := dig(c, "value").(int64)
		return int(v) == status
	case "Range":
		start, _ := dig(c, "range", "start").(int64)
		end, _ := dig(c, "range", "end").(int64)
		return int(start) <= status && status <= int(end)
	}
	return false
}

var commandOperator = regexp.MustCompile(`%([A-Z_]+)(\(([^)]*)\))?%`)

// substitute is Envoy's substitution formatter on a text format, for the operators the override uses.
func substitute(format string, headers map[string]string, details string) (string, error) {
	var err error
	out := commandOperator.ReplaceAllStringFunc(format, func(op string) string {
		m := commandOperator.FindStringSubmatch(op)
		switch {
		case m[1] == "REQ" && m[3] != "":
			if v, ok := headers[strings.ToLower(m[3])]; ok {
				return v
			}
			return "-"
		case m[1] == "RESPONSE_CODE_DETAILS" && m[2] == "":
			return details
		}
		err = fmt.Errorf("the command operator %s is not emulated", op)
		return op
	})
	return out, err
}
