// Package argocd holds what Argo CD needs to show the health of GenAIPlatforms, GenAIModels and
// GenAITenants: the Lua
// health checks (in Argo CD's own resource_customizations layout, so they can be proposed upstream as
// built-in checks), the argocd-cm snippet that ships them, and an Application example. Health runs a
// script the way Argo CD does, for tests.
package argocd

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// HealthScript is the Argo CD health check of platform.genai.dev/GenAIPlatform.
//
//go:embed resource_customizations/platform.genai.dev/GenAIPlatform/health.lua
var HealthScript string

// ConfigMapKey is the argocd-cm key that ships HealthScript.
const ConfigMapKey = "resource.customizations.health.platform.genai.dev_GenAIPlatform"

// ModelHealthScript is the Argo CD health check of platform.genai.dev/GenAIModel.
//
//go:embed resource_customizations/platform.genai.dev/GenAIModel/health.lua
var ModelHealthScript string

// TenantHealthScript is the Argo CD health check of platform.genai.dev/GenAITenant.
//
//go:embed resource_customizations/platform.genai.dev/GenAITenant/health.lua
var TenantHealthScript string

// Check is one kind's health check: its directory under resource_customizations, its script, and the
// argocd-cm key that ships it.
type Check struct {
	Kind, Script, Key string
}

// Checks are the health checks argocd-cm ships, in its order.
var Checks = []Check{
	{Kind: "GenAIPlatform", Script: HealthScript, Key: ConfigMapKey},
	{Kind: "GenAIModel", Script: ModelHealthScript, Key: "resource.customizations.health.platform.genai.dev_GenAIModel"},
	{Kind: "GenAITenant", Script: TenantHealthScript, Key: "resource.customizations.health.platform.genai.dev_GenAITenant"},
}

// HealthStatus is what the script returns, as Argo CD reads it.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// The statuses Argo CD accepts from a script; any other becomes Unknown.
var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// Health runs script on obj (unstructured content, as read from the API server) the way Argo CD runs an
// argocd-cm health check: a Lua state without the standard libraries except package, base and table, a
// one-second limit, the object as the global table obj (JSON numbers become Lua numbers), and the script's
// returned table read as {status, message}. An invalid status is an error here (Argo CD shows Unknown).
func Health(script string, obj map[string]any) (HealthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return HealthStatus{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return HealthStatus{}, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return HealthStatus{}, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	b, err := json.Marshal(fromLua(ret))
	if err != nil {
		return HealthStatus{}, err
	}
	var hs HealthStatus
	if err := json.Unmarshal(b, &hs); err != nil {
		return HealthStatus{}, fmt.Errorf("the script returned %s: %w", b, err)
	}
	if !validStatuses[hs.Status] {
		return HealthStatus{}, fmt.Errorf("the script returned the invalid health status %q", hs.Status)
	}
	return hs, nil
}

// toLua converts JSON-like content as Argo CD does (ints of either width and floats become numbers).
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// fromLua converts the returned table back to Go values (string keys only: the result is an object).
func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case lua.LBool:
		return bool(v)
	case *lua.LTable:
		m := map[string]any{}
		v.ForEach(func(k, val lua.LValue) { m[k.String()] = fromLua(val) })
		return m
	}
	return nil
}
