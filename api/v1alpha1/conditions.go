package v1alpha1

// Condition types of a GenAIPlatform. Ready summarises the others.
const (
	ConditionReady              = "Ready"
	ConditionGatewayReady       = "GatewayReady"
	ConditionProvidersReady     = "ProvidersReady"
	ConditionModelClustersReady = "ModelClustersReady"
	ConditionModelsReady        = "ModelsReady"
	// ConditionReconciling and ConditionStalled follow kstatus: present only while True.
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
	// ConditionUnauthenticated is present, True, while spec.gateway.clientAuth is not set: the platform
	// then serves anyone who reaches its endpoint, at its providers' expense. It does not hold Ready back
	// (a platform inside a trusted network may mean it), but it is never silent.
	ConditionUnauthenticated = "Unauthenticated"
)

// Labels and annotations the operator puts on every child object.
const (
	// LabelManagedBy marks objects the operator manages; the operator's Secret cache sees only these.
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedByValue   = "genai-platform-operator"
	LabelPlatform    = "platform.genai.dev/platform"
	LabelPlatformNS  = "platform.genai.dev/platform-namespace"
	LabelComponent   = "platform.genai.dev/component"
	FinalizerCleanup = "platform.genai.dev/cleanup"

	// AnnotationAbandonClusters is the escape hatch of deletion: a comma-separated list of model cluster
	// names (or "*") whose objects the operator gives up cleaning when their API server cannot be
	// reached. Without it, deleting a platform waits for every model cluster it reached.
	AnnotationAbandonClusters = "platform.genai.dev/abandon-model-clusters"

	// LabelAllowedPlatformNamespace on a namespace lets the GenAIPlatforms of the namespace it names place
	// model clusters there (their Tier Two gateway, InferenceServices and Secrets). Without it, or the
	// operator's --model-namespaces flag, a platform writes into its own namespace only.
	LabelAllowedPlatformNamespace = "platform.genai.dev/allowed-platform-namespace"

	// AnnotationRotateClusterKeys asks for new Tier One -> Tier Two keys: set it to any new value (a date,
	// a counter) to rotate every model cluster's key once.
	AnnotationRotateClusterKeys = "platform.genai.dev/rotate-cluster-keys"
)
