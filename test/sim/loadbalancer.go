package sim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// startLoadBalancer runs a simulated cloud load balancer controller, as a cloud provider's would: every
// Service of type LoadBalancer gets an ingress address from 192.0.2.0/24 (TEST-NET-1, never routed) in
// its status. Envoy Gateway's Envoy Services default to LoadBalancer and a Gateway is Programmed only
// once its Service has an address.
func (c *Cluster) startLoadBalancer(ctx context.Context) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		assigned := map[string]string{} // namespace/name -> address
		next := 10
		for {
			var list corev1.ServiceList
			if err := c.Client.List(ctx, &list); err == nil {
				for i := range list.Items {
					s := &list.Items[i]
					if s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0 {
						continue
					}
					key := s.Namespace + "/" + s.Name
					ip, ok := assigned[key]
					if !ok {
						ip = fmt.Sprintf("192.0.2.%d", next)
						next = next%250 + 1
						assigned[key] = ip
					}
					vip := corev1.LoadBalancerIPModeVIP
					before := s.DeepCopy()
					s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip, IPMode: &vip}}
					if err := c.Client.Status().Patch(ctx, s, client.MergeFrom(before)); err == nil {
						c.logf("   load balancer: %s -> %s", key, ip)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}
