package v1alpha1

import "slices"

// ModelCluster returns the spec of the named model cluster, or nil.
func (p *GenAIPlatform) ModelCluster(name string) *ModelClusterSpec {
	if i := slices.IndexFunc(p.Spec.ModelClusters, func(mc ModelClusterSpec) bool { return mc.Name == name }); i >= 0 {
		return &p.Spec.ModelClusters[i]
	}
	return nil
}
