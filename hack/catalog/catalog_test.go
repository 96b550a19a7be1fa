package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/model"
	"github.com/operator-framework/operator-registry/alpha/property"
	"github.com/operator-framework/operator-registry/pkg/lib/config"
)

const root = "../.."

// TestCatalogIsUpToDate: the committed catalog, its Dockerfile and the community-operators copy of the
// bundle are what the generator writes from bundle/ today.
func TestCatalogIsUpToDate(t *testing.T) {
	want, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadBundle(filepath.Join(root, bundleDir))
	if err != nil {
		t.Fatal(err)
	}
	stale := false
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(got) != string(data) {
			t.Errorf("%s is not what the generator writes (%v)", name, err)
			stale = true
		}
	}
	// Nothing else in the catalog or the version's community directory.
	for _, dir := range []string{CatalogDir, communityDir + "/" + b.CSV.Spec.Version.String()} {
		err := filepath.Walk(filepath.Join(root, dir), func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if _, ok := want[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s is not written by the generator", rel)
				stale = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"manifests/" + packageName + ".clusterserviceversion.yaml", "metadata/annotations.yaml", "tests/scorecard/config.yaml"} {
		if _, ok := want[communityDir+"/"+b.CSV.Spec.Version.String()+"/"+f]; !ok {
			t.Errorf("the community-operators layout lacks %s", f)
		}
	}
	if stale {
		t.Log("run make catalog (or make release) and commit dist/catalog, dist/catalog.Dockerfile and dist/community-operators")
	}
}

// load is `opm validate`'s reading of an FBC directory: declcfg, then the model, which validates it.
func load(t *testing.T, dir string) (model.Model, error) {
	t.Helper()
	if err := config.Validate(context.Background(), os.DirFS(dir)); err != nil {
		return nil, err
	}
	cfg, err := declcfg.LoadFS(context.Background(), os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	return declcfg.ConvertToModel(*cfg)
}

// TestCatalogValidates: the committed catalog passes operator-registry's validation (what `opm validate`
// runs), and its default channel leads to the bundle of bundle/, which provides both APIs from the bundle
// image the Makefile builds.
func TestCatalogValidates(t *testing.T) {
	m, err := load(t, filepath.Join(root, CatalogDir))
	if err != nil {
		t.Fatalf("opm validate: %v", err)
	}
	b, err := ReadBundle(filepath.Join(root, bundleDir))
	if err != nil {
		t.Fatal(err)
	}
	pkg := m[packageName]
	if pkg == nil || pkg.DefaultChannel == nil || pkg.DefaultChannel.Name != channel || pkg.Icon == nil {
		t.Fatalf("package %+v", pkg)
	}
	head, err := pkg.DefaultChannel.Head()
	if err != nil {
		t.Fatal(err)
	}
	image, _ := BundleImage(b.CSV)
	if head.Name != b.CSV.Name || head.Image != image || head.Image != "ghcr.io/genai-platform/genai-platform-operator-bundle:v"+b.CSV.Spec.Version.String() {
		t.Errorf("channel head %s (%s), want %s (%s)", head.Name, head.Image, b.CSV.Name, image)
	}
	var gvks []string
	for _, p := range head.Properties {
		if p.Type == property.TypeGVK {
			gvks = append(gvks, string(p.Value))
		}
	}
	if all := strings.Join(gvks, ""); len(gvks) != 3 || !strings.Contains(all, `"kind":"GenAIPlatform"`) || !strings.Contains(all, `"kind":"GenAIModel"`) || !strings.Contains(all, `"kind":"GenAITenant"`) {
		t.Errorf("the bundle provides %v", gvks)
	}
	if head.CsvJSON != "" || len(head.Objects) != 0 {
		t.Errorf("the catalog carries the bundle's objects: it should carry the CSV's metadata only")
	}
}

// write writes a catalog into a new FBC directory.
func write(t *testing.T, cfg declcfg.DeclarativeConfig) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, packageName), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, packageName, "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := declcfg.WriteYAML(cfg, f); err != nil {
		t.Fatal(err)
	}
	return dir
}

func committed(t *testing.T) *declcfg.DeclarativeConfig {
	t.Helper()
	cfg, err := declcfg.LoadFS(context.Background(), os.DirFS(filepath.Join(root, CatalogDir)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestValidationCanFail: the same validation refuses broken catalogs, so TestCatalogValidates would catch
// such damage.
func TestValidationCanFail(t *testing.T) {
	for name, damage := range map[string]func(*declcfg.DeclarativeConfig){
		"entry naming no bundle":     func(c *declcfg.DeclarativeConfig) { c.Channels[0].Entries[0].Name = packageName + ".v9.9.9" },
		"no default channel":         func(c *declcfg.DeclarativeConfig) { c.Packages[0].DefaultChannel = "stable" },
		"bundle without its version": func(c *declcfg.DeclarativeConfig) { c.Bundles[0].Properties = c.Bundles[0].Properties[:1] },
		"replaces itself": func(c *declcfg.DeclarativeConfig) {
			c.Channels[0].Entries[0].Replaces = c.Channels[0].Entries[0].Name
		},
	} {
		cfg := committed(t)
		damage(cfg)
		_, err := load(t, write(t, *cfg))
		if err == nil {
			t.Errorf("%s: the catalog validates", name)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestNextVersion: a 0.x+1 bundle that replaces this one (and skips a range) joins the catalog beside it:
// the channel's head moves to it, the earlier bundle stays, and the catalog validates.
func TestNextVersion(t *testing.T) {
	b, err := ReadBundle(filepath.Join(root, bundleDir))
	if err != nil {
		t.Fatal(err)
	}
	cur := b.CSV.Spec.Version.Version
	next := semver.Version{Major: cur.Major, Minor: cur.Minor + 1}
	csv := b.CSV.DeepCopy()
	csv.Name = packageName + ".v" + next.String()
	csv.Spec.Version = version.OperatorVersion{Version: next}
	csv.Spec.Replaces = b.CSV.Name
	csv.Annotations["containerImage"] = strings.TrimSuffix(csv.Annotations["containerImage"], cur.String()) + next.String()
	csv.Annotations["olm.skipRange"] = ">=" + cur.String() + " <" + next.String()
	old := committed(t)
	cfg, err := Catalog(&Bundle{CSV: csv, CRDs: b.CRDs}, old)
	if err != nil {
		t.Fatal(err)
	}
	m, err := load(t, write(t, *cfg))
	if err != nil {
		t.Fatalf("the catalog with v%s does not validate: %v", next, err)
	}
	ch := m[packageName].DefaultChannel
	head, err := ch.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Name != csv.Name || head.Replaces != b.CSV.Name || head.SkipRange != csv.Annotations["olm.skipRange"] || ch.Bundles[b.CSV.Name] == nil || len(ch.Bundles) != len(old.Bundles)+1 {
		t.Errorf("head %s replaces %q skips %q; bundles %v", head.Name, head.Replaces, head.SkipRange, slices.Collect(func(yield func(string) bool) {
			for n := range ch.Bundles {
				if !yield(n) {
					return
				}
			}
		}))
	}
	last := len(cfg.Bundles) - 1
	if cfg.Bundles[last].Name != csv.Name || cfg.Bundles[last-1].Name != b.CSV.Name || cfg.Channels[0].Entries[last].Name != csv.Name {
		t.Errorf("bundles and entries are not ordered by version: %s, %s", cfg.Bundles[last].Name, cfg.Channels[0].Entries[last].Name)
	}
}
