# genai-platform-operator. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
K8S_VERSION ?= 1.37.2
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(K8S_VERSION)-linux-amd64
CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE_VERSION ?= v5.8.2
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(LOCALBIN)/staticcheck-$(STATICCHECK_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTAINER_TOOL ?= docker
IMG ?= genai-platform-operator:dev
GO_TEST_FLAGS ?= -count=1 -timeout=30m
# make test ends with make e2e (the simulated cluster); E2E=0 skips it.
E2E ?= 1
# make demo runs on the simulated cluster; DEMO_CLUSTER=envtest runs it on a bare control plane instead.
DEMO_CLUSTER ?= sim

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the GenAIPlatform CRD, RBAC, and fallback AI Gateway CRDs.
	$(CONTROLLER_GEN) crd paths=./api/v1alpha1/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths=./controllers/... output:rbac:artifacts:config=config/rbac
	@# CRDs from the project's own Envoy AI Gateway types: used by tests only when ../shared (with the
	@# real upstream CRDs) is absent. Generated, never committed.
	$(CONTROLLER_GEN) crd paths=./api/external/aigateway/... output:crd:artifacts:config=$(LOCALBIN)/crds/aigateway

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: lint
lint: $(STATICCHECK) ## gofmt (no file may need it), go vet (with the e2e build tag too) and staticcheck.
	@files="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))"; \
	  if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./test/e2e/
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags e2e ./test/e2e/

$(STATICCHECK):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(LOCALBIN)/staticcheck $(STATICCHECK)

.PHONY: control-plane
control-plane: ## Build (once) and cache kube-apiserver, etcd and kube-controller-manager for tests and the demo.
	ENVTEST_ASSETS_DIR=$(ENVTEST_ASSETS) K8S_VERSION=$(K8S_VERSION) hack/build-control-plane.sh kube-apiserver etcd kube-controller-manager

.PHONY: test
test: manifests generate lint control-plane aigw-build $(KUSTOMIZE) ## Run unit, golden, envtest and request conformance suites on a real API server, the alert rules, the Helm chart and the catalog, make bench-check (BENCH_CHECK=0 skips it), then make e2e (E2E=0 skips it).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test $(GO_TEST_FLAGS) ./...
	$(MAKE) --no-print-directory test-alerts
	$(MAKE) --no-print-directory test-chart test-catalog
	@if [ "$(BENCH_CHECK)" != 0 ]; then $(MAKE) --no-print-directory bench-check; fi
	@if [ "$(E2E)" != 0 ]; then $(MAKE) --no-print-directory e2e; fi

.PHONY: test-alerts
test-alerts: ## Evaluate config/prometheus/rules.yaml with Prometheus's rule engine (hack/promrules, a module of its own).
	cd hack/promrules && go vet ./... && go test -count=1 ./...

.PHONY: test-chart
test-chart: ## The Helm chart with Helm's Go SDK: up to date with config/, helm lint, helm template equal to kustomize's objects, its values (hack/helmchart, a module of its own).
	cd hack/helmchart && go vet ./... && go test -count=1 ./...

.PHONY: test-catalog
test-catalog: ## The file-based catalog with operator-registry: up to date with bundle/, opm validate, an upgrade to the next version (hack/catalog, a module of its own).
	cd hack/catalog && go vet ./... && go test -count=1 ./...

.PHONY: sim-build
sim-build: ## Build (once) the simulated cluster: control plane + kube-scheduler, kwok, Envoy Gateway, KServe, and Envoy AI Gateway when its source is there (AIGW_SRC).
	hack/build-sim.sh
	hack/build-aigw.sh

.PHONY: aigw-build
aigw-build: ## Build (once) the Envoy AI Gateway controller and external processor from AIGW_SRC (default ../shared/src/envoy-ai-gateway-v1.1.0).
	hack/build-aigw.sh

.PHONY: conformance
conformance: control-plane aigw-build ## Requests through the real Envoy AI Gateway, per provider type; UPDATE=1 rewrites the table in docs/providers.md.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -count=1 -timeout=20m ./test/conformance/ $(if $(UPDATE),-args -update)

.PHONY: e2e
e2e: manifests sim-build ## The operator on the simulated cluster (real Envoy Gateway, KServe, Envoy AI Gateway, scheduler; kwok GPU nodes).
	go vet -tags e2e ./test/e2e/
	hack/e2e.sh

.PHONY: sim-up
sim-up: manifests sim-build ## Run the simulated cluster in the foreground (KUBECONFIG=bin/sim/state/kubeconfig); Ctrl-C stops it.
	go run ./test/cmd/simcluster up --state $(LOCALBIN)/sim/state

.PHONY: sim-down
sim-down: ## Stop a simulated cluster left by sim-up, and check that none of its processes is left.
	go run ./test/cmd/simcluster down --state $(LOCALBIN)/sim/state
	go run ./test/cmd/simcluster check --state $(LOCALBIN)/sim/state

.PHONY: docs
docs: manifests ## Regenerate docs/api-reference.md from the CRD (a test fails when it is out of date).
	go run ./hack/apidocs

.PHONY: test-chaos
test-chaos: manifests control-plane ## The chaos tests at full strength: CHAOS_KILLS (default 20) random SIGKILLs, a CHAOS_OUTAGE (default 60s) blocked API server, leader failover (make test runs 6 kills and 20s).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) CHAOS_KILLS=$(or $(CHAOS_KILLS),20) CHAOS_OUTAGE=$(or $(CHAOS_OUTAGE),60s) go test -count=1 -timeout=20m -v ./test/chaos/

.PHONY: bench
bench: BENCH_MODELS ?= 10,100,256
bench: BENCH_STEADY ?= 60s
bench: BENCH_UNRELATED ?= 10000
bench: BENCH_EDITS ?= 50
bench: BENCH_FLEET ?= 100x20
bench: BENCH_TEAM_MODELS ?= 200x10
bench: BENCH_OUT ?= $(LOCALBIN)/bench/results.json
bench: BENCH_REPORT ?= $(LOCALBIN)/bench/report.md
bench: manifests control-plane ## Performance benchmark (not in make test): convergence vs a sequential SSA baseline, requests per phase, memory, edit latency, a fleet (docs/benchmarks.md).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) BENCH=1 BENCH_MODELS=$(BENCH_MODELS) BENCH_STEADY=$(BENCH_STEADY) BENCH_UNRELATED=$(BENCH_UNRELATED) \
	  BENCH_EDITS=$(BENCH_EDITS) BENCH_FLEET=$(BENCH_FLEET) BENCH_TEAM_MODELS=$(BENCH_TEAM_MODELS) BENCH_OUT=$(BENCH_OUT) BENCH_REPORT=$(BENCH_REPORT) \
	  go test -count=1 -timeout=90m -run '^TestBenchmark$$' -v ./test/bench/

.PHONY: bench-check
bench-check: manifests control-plane ## A small benchmark compared with test/bench/baseline.json; fails on a regression (BENCH_UPDATE_BASELINE=1 rewrites the baseline).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) BENCH=1 BENCH_MODELS=10,50 BENCH_STEADY=10s BENCH_UNRELATED=500 BENCH_EDITS=15 BENCH_FLEET=10x5 BENCH_TEAM_MODELS=5x4 BENCH_SETTLE=2s \
	  BENCH_OUT=$(LOCALBIN)/bench/check.json BENCH_REPORT=$(LOCALBIN)/bench/check.md BENCH_BASELINE=$(CURDIR)/test/bench/baseline.json \
	  go test -count=1 -timeout=20m -run '^TestBenchmark$$' -v ./test/bench/

.PHONY: fuzz
fuzz: ## Fuzz render with platforms the CRD admits (FUZZTIME, default 60s); its seeds also run in make test.
	go test ./controllers/render/ -run '^$$' -fuzz FuzzRender -fuzztime $(or $(FUZZTIME),60s)

.PHONY: golden
golden: ## Regenerate the render golden files (controllers/render/testdata/*.out.yaml).
	go test ./controllers/render/ -run TestGolden -update

##@ Run

.PHONY: build
build: manifests generate ## Build the manager binary.
	go build -o $(LOCALBIN)/manager .

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig.
	go run . --metrics-bind-address=:8080 --health-probe-bind-address=:8081

.PHONY: install
install: manifests ## Install the GenAIPlatform CRD into the current kubeconfig's cluster.
	kubectl apply --server-side -f config/crd/bases

.PHONY: demo
demo: manifests generate $(if $(filter envtest,$(DEMO_CLUSTER)),control-plane,sim-build) ## The simulated cluster + the operator + the samples, status printed; stays up (DEMO_CLUSTER=envtest: bare control plane).
	DEMO_CLUSTER=$(DEMO_CLUSTER) hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop the demo: the operator and every process of its cluster.
	hack/demo.sh down

##@ Install

.PHONY: docker-build
docker-build: ## Build the operator image IMG (Dockerfile: static binary on distroless, non-root).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image IMG.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Build dist/install.yaml (CRD, RBAC, manager Deployment in genai-platform-system) for IMG.
	@# A throwaway overlay sets the image, so that building never edits config/manager.
	@rm -rf dist/overlay && mkdir -p dist/overlay
	cd dist/overlay && $(KUSTOMIZE) create --resources ../../config/default && $(KUSTOMIZE) edit set image genai-platform-operator=$(IMG)
	$(KUSTOMIZE) build dist/overlay > dist/install.yaml
	@rm -rf dist/overlay
	@echo "wrote dist/install.yaml: kubectl apply --server-side -f dist/install.yaml"

.PHONY: deploy
deploy: build-installer ## Install the operator (image IMG) into the current kubeconfig's cluster.
	kubectl apply --server-side -f dist/install.yaml

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator: the GenAIPlatforms first (the operator cleans up their children), then the rest.
	-kubectl delete genaiplatforms.platform.genai.dev --all --all-namespaces --wait --timeout=5m
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

##@ OperatorHub

# The bundle's version, operator image and upgrade graph are spec.version, the containerImage annotation,
# spec.replaces and the olm.skipRange annotation of the CSV base (config/manifests/bases; make release
# sets them); BUNDLE_VERSION, BUNDLE_OPERATOR_IMG, BUNDLE_REPLACES and BUNDLE_SKIP_RANGE override them.
CSV_BASE := config/manifests/bases/genai-platform-operator.clusterserviceversion.yaml
BUNDLE_VERSION ?=
BUNDLE_OPERATOR_IMG ?=
BUNDLE_REPLACES ?=
BUNDLE_SKIP_RANGE ?=
BUNDLE_IMG ?= ghcr.io/genai-platform/genai-platform-operator-bundle:v$(or $(BUNDLE_VERSION),$(shell sed -n 's/^  version: //p' $(CSV_BASE)))

.PHONY: bundle
bundle: manifests $(KUSTOMIZE) ## Write the OLM bundle (bundle/, bundle.Dockerfile) from config/ and validate it; commit the result.
	$(KUSTOMIZE) build config/default | go run ./hack/bundle $(if $(BUNDLE_VERSION),-version $(BUNDLE_VERSION)) $(if $(BUNDLE_OPERATOR_IMG),-image $(BUNDLE_OPERATOR_IMG)) \
	  $(if $(BUNDLE_REPLACES),-replaces $(BUNDLE_REPLACES)) $(if $(BUNDLE_SKIP_RANGE),-skip-range '$(BUNDLE_SKIP_RANGE)')
	go test ./hack/bundle/ -count=1 -run 'TestBundleValidates|TestBundleDeclaresNoDependencies' -v | grep -E '^(---|ok|FAIL)|warning|errors'

.PHONY: bundle-build
bundle-build: ## Build the bundle image BUNDLE_IMG from bundle/ (needs Docker with BuildKit, which reads bundle.Dockerfile.dockerignore).
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image BUNDLE_IMG.
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

CATALOG_IMG ?= ghcr.io/genai-platform/genai-platform-operator-catalog:v$(shell sed -n 's/^  version: //p' $(CSV_BASE))

.PHONY: catalog
catalog: ## Write the file-based catalog dist/catalog (channel candidate; earlier bundles kept), dist/catalog.Dockerfile and dist/community-operators from bundle/ (make bundle first); commit them.
	cd hack/catalog && go run . -root ../..

.PHONY: catalog-build
catalog-build: ## Build the catalog image CATALOG_IMG from dist/catalog (needs Docker; the bundle image it names must be pushed to be installable).
	$(CONTAINER_TOOL) build -f dist/catalog.Dockerfile -t $(CATALOG_IMG) dist

.PHONY: catalog-push
catalog-push: ## Push the catalog image CATALOG_IMG.
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

##@ Release

# The image every release artifact names: ghcr.io/genai-platform/genai-platform-operator:v<VERSION>.
RELEASE_VERSION = $(or $(VERSION),$(shell sed -n 's/^  version: //p' $(CSV_BASE)))

.PHONY: chart
chart: manifests ## Write the Helm chart dist/chart from config/ (hack/helmchart); its version and image are the CSV base's; commit it.
	cd hack/helmchart && go run . -root ../..

.PHONY: release
release: $(KUSTOMIZE) ## make release VERSION=x.y.z: the version's dist/install.yaml, bundle/, dist/chart, dist/catalog, dist/community-operators and dist/RELEASE-NOTES.md (no VERSION: regenerate the current one's); a new version first becomes the project's (CSV base, manager.Version, CHANGELOG.md; SKIP_RANGE sets olm.skipRange).
	go run ./hack/release prepare -version $(RELEASE_VERSION) $(if $(SKIP_RANGE),-skip-range '$(SKIP_RANGE)')
	$(MAKE) --no-print-directory build-installer IMG=$$(sed -n 's/^    containerImage: //p' $(CSV_BASE))
	$(MAKE) --no-print-directory bundle BUNDLE_VERSION= BUNDLE_OPERATOR_IMG= BUNDLE_REPLACES= BUNDLE_SKIP_RANGE=
	$(MAKE) --no-print-directory chart catalog
	go run ./hack/release notes
	@echo "release v$$(sed -n 's/^  version: //p' $(CSV_BASE)): commit CHANGELOG.md, config/manifests, controllers/manager/version.go, bundle/, bundle.Dockerfile and dist/, tag it, then publish the images dist/RELEASE-NOTES.md names"

$(KUSTOMIZE):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
