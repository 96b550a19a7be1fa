package chaos

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	platformv1 "github.com/genai-platform/genai-platform-operator/api/v1alpha1"
	testenv "github.com/genai-platform/genai-platform-operator/test/envtest"
)

// TestAPIServerOutages: the operator's API server is blocked (connections dropped, new ones accepted and
// never answered) for longer than the client timeouts, then killed and restarted. The operator rides
// both out in the same process (no crash, no restart), counts the failed requests in its metrics, is not
// ready while it cannot sync, and then reconciles an edit made during the outage.
func TestAPIServerOutages(t *testing.T) {
	blocked := 20 * time.Second
	if v, err := time.ParseDuration(os.Getenv("CHAOS_OUTAGE")); err == nil {
		blocked = v
	}
	// A fixed certificate directory: the restarted API server keeps its CAs, so the kubeconfig stays valid.
	certs := t.TempDir()
	c := newCluster(t, func(env *envtest.Environment) { env.ControlPlane.GetAPIServer().CertDir = certs })
	admin, ctx := c.admin, t.Context()
	const ns = "outage"
	c.namespace(t, ns)
	link := c.partition(t)
	metrics, probes := testenv.FreePort(t), testenv.FreePort(t)
	// The flags given last win: the test's own addresses instead of the disabled ones.
	op := c.operator(t, "outage-operator", link,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metrics), fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probes))
	op.Start(t)
	pid := op.Cmd.Process.Pid
	get := func(path string) (int, string) {
		resp, err := http.Get(path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probes)

	p := c.platform(t, ns, "steady", 10, 0)
	models := 10
	// converged waits until the platform's latest generation is reconciled with models models.
	converged := func(phase string) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, func() error {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
				return err
			}
			if p.Status.ObservedGeneration != p.Generation || int(p.Status.TotalModels) != models {
				return fmt.Errorf("%s: generation %d, observed %d, %d models in status", phase, p.Generation, p.Status.ObservedGeneration, p.Status.TotalModels)
			}
			return nil
		})
	}
	addModel := func() {
		t.Helper()
		models++
		c.setModels(t, p, models, 0)
	}
	converged("start")
	if code, body := get(readyz); code != http.StatusOK {
		t.Fatalf("not ready before the outage: %d %s", code, body)
	}

	// 1. Blocked for longer than the client timeouts; an edit is made meanwhile (by the admin, who still
	// reaches the API server).
	link.setCut(true)
	addModel()
	time.Sleep(blocked)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the operator exited during the outage: %v", err)
	}
	link.setCut(false)
	converged("after the blocked API server")
	t.Logf("API server unreachable for %v: the operator (pid %d) stayed up and reconciled the edit made meanwhile", blocked, pid)
	first := recordedOutage(t, c, p, nil)

	// 2. The API server is killed and restarted (same address, same certificates).
	apiPID := testenv.ProcessWithArg(t, "kube-apiserver", "--secure-port="+c.env.ControlPlane.GetAPIServer().SecureServing.Port)
	if err := syscall.Kill(apiPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	notReady := false
	for time.Since(down) < 5*time.Second {
		if code, _ := get(readyz); code != http.StatusOK {
			notReady = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.env.ControlPlane.GetAPIServer().Start(); err != nil {
		t.Fatalf("restarting the API server: %v", err)
	}
	addModel()
	converged("after the API server restart")
	if err := syscall.Kill(pid, 0); err != nil || op.Cmd.Process.Pid != pid {
		t.Fatalf("the operator did not ride out the restart in the same process: %v", err)
	}
	// Informers stay synced through an outage (they keep their last state), so /readyz may well stay OK.
	t.Logf("API server killed and restarted: the operator (pid %d) reconciled the next edit; /readyz failed while it was down: %v", pid, notReady)
	recordedOutage(t, c, p, first)

	// The outage is in the metrics: client requests that got no answer.
	_, body := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics))
	failed := 0.0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "rest_client_requests_total{") && strings.Contains(line, `code="<error>"`) {
			if v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64); err == nil {
				failed += v
			}
		}
	}
	if failed == 0 {
		t.Error(`rest_client_requests_total{code="<error>"} counts no failed request: the outage is invisible in the metrics`)
	}
	t.Logf("rest_client_requests_total{code=\"<error>\"}: %v requests failed during the outages", failed)
	if code, body := get(readyz); code != http.StatusOK {
		t.Errorf("not ready after the outages: %d %s", code, body)
	}
}

// recordedOutage waits until the platform's status records an API server outage that ended after the
// one given (nil: any), and returns it.
func recordedOutage(t *testing.T, c *cluster, p *platformv1.GenAIPlatform, after *platformv1.APIServerOutage) *platformv1.APIServerOutage {
	t.Helper()
	var got *platformv1.APIServerOutage
	testenv.Eventually(t, time.Minute, func() error {
		if err := c.admin.Get(t.Context(), client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		got = p.Status.LastAPIServerOutage
		if got == nil || (after != nil && !after.End.Before(&got.End)) {
			return fmt.Errorf("status.lastAPIServerOutage is %+v, want an outage that ended after %+v", got, after)
		}
		return nil
	})
	if got.FailedRequests == 0 || !got.Start.Before(&got.End) || got.Message == "" {
		t.Errorf("status.lastAPIServerOutage does not describe an outage: %+v", got)
	}
	t.Logf("status.lastAPIServerOutage: %s for %s, %d failed requests, last: %s", got.Start.Format(time.RFC3339), got.End.Sub(got.Start.Time), got.FailedRequests, got.Message)
	return got
}
