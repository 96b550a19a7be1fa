-- Argo CD health of a GenAITenant (platform.genai.dev/v1alpha1), a team or application calling a platform.
--   Degraded:    Accepted=False for the current generation: the platform does not serve the tenant
--                (PlatformNotFound, InvalidReference); or Ready=False for a reason only a human can fix: its
--                keys' Secret missing or empty (KeysNotFound), a key another client has (KeysConflict), a
--                budget not in force (BudgetsRefused).
--   Healthy:     Accepted and Ready are True for the current generation (status.observedGeneration too).
--   Progressing: anything else: not looked at by the platform yet, or accepted and not ready yet.
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

local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" and current(accepted) then
  hs.status = "Degraded"
  hs.message = describe(accepted)
  return hs
end

local ready = condition("Ready")
local needsHuman = {KeysNotFound = true, KeysConflict = true, BudgetsRefused = true}
if ready ~= nil and ready.status == "False" and current(ready) and needsHuman[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end

local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
local reconciled = observed ~= nil and (generation == nil or observed == generation)

if reconciled and accepted ~= nil and accepted.status == "True" and ready ~= nil and current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
if ready ~= nil and current(ready) and ready.status ~= "True" then
  hs.message = describe(ready)
elseif not reconciled then
  hs.message = "Waiting for the platform to look at generation " .. tostring(generation)
else
  hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
end
return hs
