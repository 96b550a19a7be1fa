// Command release prepares a version of the operator and writes its release notes; `make release
// VERSION=x.y.z` runs it around the generators of the other artifacts (dist/install.yaml, bundle/,
// dist/chart, dist/catalog, dist/community-operators).
//
//	go run ./hack/release prepare -version 0.2.0 [-date 2027-01-15T10:00:00Z] [-skip-range '>=0.1.0 <0.2.0']
//
// A version newer than the CSV base's (config/manifests/bases) becomes the project's: the CSV base's
// spec.version, its containerImage tag, createdAt and spec.replaces (the previous version), the
// olm.skipRange annotation when given (removed otherwise), manager.Version
// (controllers/manager/version.go), and a section of CHANGELOG.md made of its Unreleased section, or,
// when that is empty, drafted from the subjects of the commits since the previous version's tag (to
// edit before committing). The current version changes nothing: its artifacts are only regenerated.
//
//	go run ./hack/release notes
//
// writes dist/RELEASE-NOTES.md for the CSV base's version from its CHANGELOG.md section: the notes depend
// on committed files only, so a test can regenerate them on any clone.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/blang/semver/v4"
)

const (
	packageName = "genai-platform-operator"
	csvBase     = "config/manifests/bases/" + packageName + ".clusterserviceversion.yaml"
	versionGo   = "controllers/manager/version.go"
	changelog   = "CHANGELOG.md"
	notesFile   = "dist/RELEASE-NOTES.md"
	repository  = "https://github.com/genai-platform/genai-platform-operator"
	rawBase     = "https://raw.githubusercontent.com/genai-platform/genai-platform-operator"
	unreleased  = "## Unreleased"
)

var (
	versionLine   = regexp.MustCompile(`(?m)^  version: (\S+)$`)
	imageLine     = regexp.MustCompile(`(?m)^    containerImage: (\S+):v(\S+)$`)
	createdAtLine = regexp.MustCompile(`(?m)^    createdAt: "([^"]*)"$`)
	replacesLine  = regexp.MustCompile(`(?m)^  replaces: (\S+)\n`)
	skipRangeLine = regexp.MustCompile(`(?m)^    olm\.skipRange: .*\n`)
	goVersionLine = regexp.MustCompile(`(?m)^var Version = "([^"]*)"$`)
	sectionHead   = regexp.MustCompile(`(?m)^## v(\S+) - (\d{4}-\d{2}-\d{2})$`)
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: release prepare -version x.y.z [-date RFC3339] [-skip-range RANGE] | release notes")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	root := fs.String("root", ".", "repository root")
	var err error
	switch os.Args[1] {
	case "prepare":
		version := fs.String("version", "", "the version to release, x.y.z")
		date := fs.String("date", "", "the release time, RFC 3339 (default: now)")
		skipRange := fs.String("skip-range", "", "olm.skipRange of the new version's CSV: the versions it replaces directly")
		_ = fs.Parse(os.Args[2:])
		when := time.Now().UTC().Truncate(time.Second)
		if *date != "" {
			if when, err = time.Parse(time.RFC3339, *date); err != nil {
				break
			}
		}
		var msg string
		if msg, err = Prepare(*root, *version, when, *skipRange); err == nil {
			fmt.Println(msg)
		}
	case "notes":
		_ = fs.Parse(os.Args[2:])
		var b []byte
		if b, err = Notes(*root); err == nil {
			if err = os.MkdirAll(filepath.Join(*root, filepath.Dir(notesFile)), 0o755); err == nil {
				err = os.WriteFile(filepath.Join(*root, notesFile), b, 0o644)
			}
		}
		if err == nil {
			fmt.Println("wrote", notesFile)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// Base is what the CSV base says of the version.
type Base struct {
	Version   semver.Version
	Image     string // repository:vVersion
	CreatedAt time.Time
	Replaces  string
	SkipRange string
}

// ReadBase reads the version fields of the CSV base.
func ReadBase(root string) (Base, error) {
	b, err := os.ReadFile(filepath.Join(root, csvBase))
	if err != nil {
		return Base{}, err
	}
	var base Base
	m := versionLine.FindSubmatch(b)
	if m == nil {
		return base, fmt.Errorf("%s: no spec.version", csvBase)
	}
	if base.Version, err = semver.Parse(string(m[1])); err != nil {
		return base, fmt.Errorf("%s: spec.version: %w", csvBase, err)
	}
	m = imageLine.FindSubmatch(b)
	if m == nil || string(m[2]) != base.Version.String() {
		return base, fmt.Errorf("%s: the containerImage annotation is not tagged v%s", csvBase, base.Version)
	}
	base.Image = string(m[1]) + ":v" + string(m[2])
	m = createdAtLine.FindSubmatch(b)
	if m == nil {
		return base, fmt.Errorf("%s: no createdAt annotation", csvBase)
	}
	if base.CreatedAt, err = time.Parse(time.RFC3339, string(m[1])); err != nil {
		return base, fmt.Errorf("%s: createdAt: %w", csvBase, err)
	}
	if m = replacesLine.FindSubmatch(b); m != nil {
		base.Replaces = string(m[1])
	}
	if m := skipRangeLine.Find(b); m != nil {
		_, v, _ := strings.Cut(strings.TrimSpace(string(m)), ": ")
		base.SkipRange = strings.Trim(v, `'"`)
	}
	return base, nil
}

// Prepare makes version the project's version (see the package comment) and says what it did.
func Prepare(root, version string, when time.Time, skipRange string) (string, error) {
	v, err := semver.Parse(strings.TrimPrefix(version, "v"))
	if err != nil {
		return "", fmt.Errorf("version %q: want x.y.z: %w", version, err)
	}
	base, err := ReadBase(root)
	if err != nil {
		return "", err
	}
	log, err := os.ReadFile(filepath.Join(root, changelog))
	if err != nil {
		return "", err
	}
	switch v.Compare(base.Version) {
	case 0:
		if _, _, err := Section(log, v.String()); err != nil {
			return "", err
		}
		if skipRange != "" && skipRange != base.SkipRange {
			return "", fmt.Errorf("v%s is the current version: edit olm.skipRange in %s rather than passing -skip-range", v, csvBase)
		}
		return fmt.Sprintf("v%s is the current version: regenerating its artifacts", v), nil
	case -1:
		return "", fmt.Errorf("v%s is older than the current version v%s", v, base.Version)
	}
	if skipRange != "" {
		inRange, err := semver.ParseRange(skipRange)
		if err != nil {
			return "", fmt.Errorf("skip range %q: %w", skipRange, err)
		}
		if inRange(v) {
			return "", fmt.Errorf("skip range %q holds v%s itself", skipRange, v)
		}
	}

	// CHANGELOG.md: the Unreleased section becomes the version's.
	body, err := unreleasedBody(log)
	if err != nil {
		return "", err
	}
	drafted := false
	if strings.TrimSpace(body) == "" {
		if body, err = Draft(root, "v"+base.Version.String()); err != nil {
			return "", err
		}
		drafted = true
	}
	i := bytes.Index(log, []byte(unreleased+"\n"))
	rest := log[i+len(unreleased)+1:]
	if j := sectionHead.FindIndex(rest); j != nil {
		rest = rest[j[0]:]
	} else {
		rest = nil
	}
	var out bytes.Buffer
	out.Write(log[:i])
	fmt.Fprintf(&out, "%s\n\n## v%s - %s\n\n%s\n\n", unreleased, v, when.Format(time.DateOnly), strings.TrimSpace(body))
	out.Write(rest)

	// The CSV base.
	csv, err := os.ReadFile(filepath.Join(root, csvBase))
	if err != nil {
		return "", err
	}
	csv = versionLine.ReplaceAll(csv, []byte("  version: "+v.String()))
	csv = imageLine.ReplaceAll(csv, []byte("    containerImage: ${1}:v"+v.String()))
	csv = createdAtLine.ReplaceAll(csv, []byte(`    createdAt: "`+when.Format(time.RFC3339)+`"`))
	replaces := "  replaces: " + packageName + ".v" + base.Version.String() + "\n"
	if replacesLine.Match(csv) {
		csv = replacesLine.ReplaceAll(csv, []byte(replaces))
	} else {
		loc := versionLine.FindIndex(csv)
		csv = append(csv[:loc[1]+1], append([]byte(replaces), csv[loc[1]+1:]...)...)
	}
	csv = skipRangeLine.ReplaceAll(csv, nil)
	if skipRange != "" {
		loc := createdAtLine.FindIndex(csv)
		line := fmt.Sprintf("    olm.skipRange: '%s'\n", skipRange)
		csv = append(csv[:loc[1]+1], append([]byte(line), csv[loc[1]+1:]...)...)
	}

	// manager.Version.
	code, err := os.ReadFile(filepath.Join(root, versionGo))
	if err != nil {
		return "", err
	}
	if !goVersionLine.Match(code) {
		return "", fmt.Errorf("%s: no `var Version = \"...\"` line", versionGo)
	}
	code = goVersionLine.ReplaceAll(code, []byte(`var Version = "`+v.String()+`"`))

	for path, b := range map[string][]byte{changelog: out.Bytes(), csvBase: csv, versionGo: code} {
		if err := os.WriteFile(filepath.Join(root, path), b, 0o644); err != nil {
			return "", err
		}
	}
	msg := fmt.Sprintf("v%s replaces v%s: %s, %s and %s updated", v, base.Version, csvBase, versionGo, changelog)
	if drafted {
		msg += fmt.Sprintf("; the Unreleased section was empty, so the v%s section of %s is drafted from the commit subjects: edit it, then run make release VERSION=%s again", v, changelog, v)
	}
	return msg, nil
}

// unreleasedBody is the text of the Unreleased section.
func unreleasedBody(log []byte) (string, error) {
	i := bytes.Index(log, []byte(unreleased+"\n"))
	if i < 0 {
		return "", fmt.Errorf("%s has no %q section", changelog, unreleased)
	}
	rest := log[i+len(unreleased)+1:]
	if j := sectionHead.FindIndex(rest); j != nil {
		rest = rest[:j[0]]
	}
	return string(rest), nil
}

// Section returns the date and the text of a version's section of the changelog.
func Section(log []byte, version string) (date, body string, err error) {
	heads := sectionHead.FindAllSubmatchIndex(log, -1)
	for i, h := range heads {
		if string(log[h[2]:h[3]]) != version {
			continue
		}
		end := len(log)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		return string(log[h[4]:h[5]]), strings.TrimSpace(string(log[h[1]:end])), nil
	}
	return "", "", fmt.Errorf("%s has no section \"## v%s - YYYY-MM-DD\"", changelog, version)
}

// Draft lists the subjects of the commits since the tag (all commits when there is no such tag), oldest
// first, as changelog entries.
func Draft(root, tag string) (string, error) {
	rng := "HEAD"
	if err := exec.Command("git", "-C", root, "rev-parse", "-q", "--verify", "refs/tags/"+tag).Run(); err == nil {
		rng = tag + "..HEAD"
	}
	out, err := exec.Command("git", "-C", root, "log", "--no-merges", "--reverse", "--format=%s", rng).Output()
	if err != nil {
		return "", fmt.Errorf("git log %s: %w", rng, err)
	}
	var b strings.Builder
	for _, s := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if s = strings.TrimSpace(s); s != "" {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("no commit since %s and an empty Unreleased section: nothing to release", tag)
	}
	return b.String(), nil
}

// Notes returns the release notes of the CSV base's version.
func Notes(root string) ([]byte, error) {
	base, err := ReadBase(root)
	if err != nil {
		return nil, err
	}
	log, err := os.ReadFile(filepath.Join(root, changelog))
	if err != nil {
		return nil, err
	}
	date, body, err := Section(log, base.Version.String())
	if err != nil {
		return nil, err
	}
	if date != base.CreatedAt.Format(time.DateOnly) {
		return nil, fmt.Errorf("%s dates v%s %s, the CSV base's createdAt %s", changelog, base.Version, date, base.CreatedAt.Format(time.RFC3339))
	}
	if body == "" {
		return nil, errors.New("the changelog section of v" + base.Version.String() + " is empty")
	}
	v, tag := base.Version.String(), "v"+base.Version.String()
	repo, _, _ := strings.Cut(base.Image, ":v")
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- Generated by `make release` (hack/release) from CHANGELOG.md and the CSV base: do not edit. -->\n")
	fmt.Fprintf(&b, "# %s %s\n\nReleased %s. Operator image: `%s`.\n\n", packageName, tag, date, base.Image)
	fmt.Fprintf(&b, "## Changes\n\n%s\n\n", body)
	b.WriteString("## Install\n\n")
	b.WriteString("With kubectl, from the manifests committed at the tag:\n\n```sh\n")
	fmt.Fprintf(&b, "kubectl apply --server-side -f %s/%s/dist/install.yaml\n```\n\n", rawBase, tag)
	b.WriteString("With Helm, from a checkout of the tag (the chart is `dist/chart`; the repository publishes no packaged chart):\n\n```sh\n")
	fmt.Fprintf(&b, "git clone --branch %s %s.git && cd %s\n", tag, repository, packageName)
	b.WriteString("kubectl create namespace genai-platform-system\n")
	b.WriteString("kubectl label namespace genai-platform-system pod-security.kubernetes.io/enforce=restricted\n")
	fmt.Fprintf(&b, "helm install %s dist/chart --namespace genai-platform-system\n```\n\n", packageName)
	b.WriteString("With Argo CD: an Application whose source is the repository at `" + tag + "`, path `dist/chart` (Helm) or\n" +
		"`config/default` with the image set by `kustomize.images` (docs/install.md).\n\n")
	fmt.Fprintf(&b, "With OLM: the bundle `%s.%s` (package `%s`, channel `candidate`), in the file-based catalog\n"+
		"`dist/catalog`.\n\n", packageName, tag, packageName)
	b.WriteString("## Upgrading\n\n")
	if base.Replaces != "" {
		fmt.Fprintf(&b, "The bundle replaces `%s`", base.Replaces)
		if base.SkipRange != "" {
			fmt.Fprintf(&b, " and skips `%s`", base.SkipRange)
		}
		b.WriteString(". Apply the new `dist/install.yaml` with `kubectl apply --server-side`, or `helm upgrade`; " +
			"Helm does not upgrade CRDs, so apply `dist/chart/crds/` with `kubectl apply --server-side` first.\n\n")
	} else {
		b.WriteString("The first release: there is nothing to upgrade from.\n\n")
	}
	b.WriteString("## Artifacts\n\n| path | what |\n|---|---|\n")
	fmt.Fprintf(&b, "| `dist/install.yaml` | CRDs, namespace, RBAC and the manager Deployment, image `%s` |\n", base.Image)
	fmt.Fprintf(&b, "| `dist/chart/` | Helm chart `%s` %s, generated from `config/` |\n", packageName, v)
	fmt.Fprintf(&b, "| `bundle/`, `bundle.Dockerfile` | OLM bundle, CSV `%s.%s`, with its scorecard configuration |\n", packageName, tag)
	fmt.Fprintf(&b, "| `dist/catalog/` | file-based catalog (package `%s`, channel `candidate`) |\n", packageName)
	fmt.Fprintf(&b, "| `dist/community-operators/%s/%s/` | the bundle in the community-operators layout |\n\n", packageName, v)
	b.WriteString("## Publishing\n\n")
	b.WriteString("The repository builds no images by itself. The artifacts above name these; push them before announcing the release:\n\n```sh\n")
	fmt.Fprintf(&b, "make docker-build docker-push IMG=%s\n", base.Image)
	fmt.Fprintf(&b, "make bundle-build bundle-push BUNDLE_IMG=%s-bundle:%s\n", repo, tag)
	fmt.Fprintf(&b, "make catalog-build catalog-push CATALOG_IMG=%s-catalog:%s\n```\n", repo, tag)
	return []byte(b.String()), nil
}
