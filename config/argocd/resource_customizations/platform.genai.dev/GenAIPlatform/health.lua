-- Argo CD health of a GenAIPlatform (platform.genai.dev/v1alpha1), from its kstatus-style conditions.
--   Degraded:    Stalled=True for the current generation: a problem only a human can fix (a missing
--                Secret or key, a cross-namespace reference, a missing CRD, an invalid spec).
--   Healthy:     Ready=True, and the operator has reconciled the current generation (status.observedGeneration
--                and the Ready condition's observedGeneration equal metadata.generation).
--   Progressing: anything else: not reconciled yet, or waiting for Envoy Gateway, the AI Gateway or KServe.
-- The message is the deciding condition's "reason: message".
-- It uses no Lua standard library beyond base (Argo CD runs argocd-cm scripts without them by default).
local hs = {}
local generation = obj.metadata.generation

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- A condition describes the current spec when it names no generation or the current one.
local function current(c)
  return c.observedGeneration == nil or generation == nil or c.observedGeneration == generation
end

local function describe(c)
  local message = c.message or ""
  if c.reason == nil or c.reason == "" then
    return message
  end
  if message == "" then
    return c.reason
  end
  return c.reason .. ": " .. message
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" and current(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
local reconciled = observed ~= nil and (generation == nil or observed == generation)
local ready = condition("Ready")

if reconciled and ready ~= nil and current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end

hs.status = "Progressing"
if ready ~= nil and current(ready) and ready.status ~= "True" then
  hs.message = describe(ready)
elseif observed == nil then
  hs.message = "Waiting for the operator to reconcile the platform"
elseif not reconciled then
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation) ..
    " (last reconciled: " .. tostring(observed) .. ")"
else
  hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
end
return hs
