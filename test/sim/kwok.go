package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// Scheme is the scheme of Cluster.Client: the core APIs; everything else is read as unstructured.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	return s
}

// NodePool is one pool of fake nodes.
type NodePool struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Labels map[string]string `json:"labels,omitempty"`
	Taints []corev1.Taint    `json:"taints,omitempty"`
	// Capacity is each node's capacity (and allocatable): cpu, memory, pods, nvidia.com/gpu...
	Capacity map[string]string `json:"capacity"`
}

// NodePoolsFile is the node pools file's format.
type NodePoolsFile struct {
	Pools []NodePool `json:"pools"`
}

// LabelPool is the label every fake node carries with its pool's name.
const LabelPool = "sim.genai.dev/pool"

// ReadNodePools reads a node pools file.
func ReadNodePools(path string) ([]NodePool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f NodePoolsFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range f.Pools {
		if p.Name == "" || p.Count < 1 {
			return nil, fmt.Errorf("%s: pool %q needs a name and a count >= 1", path, p.Name)
		}
	}
	return f.Pools, nil
}

// Nodes are the Node objects of the pools: kwok manages those annotated kwok.x-k8s.io/node=fake.
func Nodes(pools []NodePool) ([]*corev1.Node, error) {
	var out []*corev1.Node
	for _, p := range pools {
		capacity := corev1.ResourceList{}
		for k, v := range p.Capacity {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, fmt.Errorf("pool %s: capacity %s: %w", p.Name, k, err)
			}
			capacity[corev1.ResourceName(k)] = q
		}
		if _, ok := capacity[corev1.ResourcePods]; !ok {
			capacity[corev1.ResourcePods] = resource.MustParse("110")
		}
		for i := 0; i < p.Count; i++ {
			name := fmt.Sprintf("%s-%d", p.Name, i)
			labels := map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"type": "kwok", LabelPool: p.Name,
			}
			for k, v := range p.Labels {
				labels[k] = v
			}
			out = append(out, &corev1.Node{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{
					"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0",
				}},
				Spec: corev1.NodeSpec{Taints: p.Taints},
				Status: corev1.NodeStatus{
					Capacity: capacity, Allocatable: capacity.DeepCopy(),
					//lint:ignore SA1019 a fake node reports what real kubelets of this version still do
					NodeInfo: corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux", KubeletVersion: "fake", KubeProxyVersion: "fake"},
				},
			})
		}
	}
	return out, nil
}

// kwokStages are kwok's own stages, read in place from its module: nodes become Ready and keep a lease;
// pods become Ready (init containers Completed), Jobs' pods complete, deleted pods go.
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

func (c *Cluster) startKwok(ctx context.Context) error {
	pools, err := ReadNodePools(c.NodePools)
	if err != nil {
		return err
	}
	nodes, err := Nodes(pools)
	if err != nil {
		return err
	}
	mod, err := testenv.ModuleDir("sigs.k8s.io/kwok@" + KwokVersion)
	if err != nil {
		return err
	}
	var stages []string
	for _, s := range kwokStages {
		b, err := os.ReadFile(filepath.Join(mod, s))
		if err != nil {
			return err
		}
		stages = append(stages, strings.TrimSpace(string(b)))
	}
	dir := filepath.Join(c.StateDir, "kwok")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stagesFile := filepath.Join(dir, "stages.yaml")
	if err := os.WriteFile(stagesFile, []byte(strings.Join(stages, "\n---\n")+"\n"), 0o644); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	// HOME: kwok keeps its defaults under ~/.kwok; keep them in the state directory.
	if _, err := c.startProcess("kwok", []string{"HOME=" + dir}, c.bin("kwok"),
		"--kubeconfig="+c.Kubeconfig, "--config="+stagesFile,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:"+itoa(port),
	); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := c.Client.Create(ctx, n); err != nil {
			return fmt.Errorf("creating node %s: %w", n.Name, err)
		}
	}
	c.logf("   %d fake nodes in %d pools", len(nodes), len(pools))
	return poll(ctx, 2*time.Minute, "every fake node Ready without the not-ready taint", func() (bool, error) {
		if err := c.processesAlive(); err != nil {
			return false, err
		}
		var list corev1.NodeList
		if err := c.Client.List(ctx, &list, client.HasLabels{LabelPool}); err != nil {
			return false, err
		}
		if len(list.Items) != len(nodes) {
			return false, fmt.Errorf("%d of %d nodes", len(list.Items), len(nodes))
		}
		for _, n := range list.Items {
			if !nodeReady(&n) {
				return false, fmt.Errorf("node %s is not Ready yet", n.Name)
			}
			for _, t := range n.Spec.Taints {
				if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
					return false, fmt.Errorf("node %s still has the taint %s", n.Name, t.Key)
				}
			}
		}
		return true, nil
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
