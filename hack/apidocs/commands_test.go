package main

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/genai-platform/genai-platform-operator/controllers/manager"
)

// codeLines are the lines of the shell code blocks (```sh, ```console or no language) of a Markdown file,
// with a leading "$ " prompt removed.
func codeLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in, shell := false, false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if fence := strings.TrimSpace(line); strings.HasPrefix(fence, "```") {
			if in {
				in = false
				continue
			}
			lang := strings.TrimPrefix(fence, "```")
			in, shell = true, lang == "" || lang == "sh" || lang == "console" || lang == "bash"
			continue
		}
		if in && shell {
			out = append(out, strings.TrimPrefix(strings.TrimSpace(line), "$ "))
		}
	}
	return out
}

// makefileTargets are the targets the Makefile defines.
func makefileTargets(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z0-9_.%/-]+(?: [A-Za-z0-9_.%/-]+)*):`).FindAllStringSubmatch(string(b), -1) {
		for _, target := range strings.Fields(m[1]) {
			out[target] = true
		}
	}
	return out
}

// managerFlags are the flags the manager binary accepts (main.go's: the manager's, the logger's and
// --version) and those of `manager render`.
func managerFlags() map[string]bool {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var cfg manager.Config
	cfg.BindFlags(fs)
	(&zap.Options{}).BindFlags(fs)
	fs.Bool("version", false, "")
	out := map[string]bool{"f": true, "secrets-from": true, "n": true} // manager render's (controllers/preview)
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = true })
	return out
}

// TestDocsCommandsExist: every `make` target that a shell block of the README or docs/ runs is a target of
// the Makefile, and every flag of the manager that they, or the flag table of docs/install.md, show is a
// flag the binary accepts. A renamed target or flag fails here before a reader copies a stale command.
func TestDocsCommandsExist(t *testing.T) {
	targets, flags := makefileTargets(t), managerFlags()
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	makeCmd := regexp.MustCompile(`(?:^|[;&|(]\s*)make\s+([^#;&|)]*)`)
	managerCmd := regexp.MustCompile(`(?:^|\s|/)manager\s+([^#;&|]*)`)
	flagToken := regexp.MustCompile(`(?:^|\s|\[)--?([a-z][a-z0-9-]*)`)
	checkedMake, checkedFlags := 0, 0
	for _, doc := range docs {
		rel, _ := filepath.Rel(root, doc)
		for _, line := range codeLines(t, doc) {
			for _, m := range makeCmd.FindAllStringSubmatch(line, -1) {
				for _, word := range strings.Fields(m[1]) {
					if strings.Contains(word, "=") || strings.HasPrefix(word, "-") {
						continue // a variable or a make option
					}
					checkedMake++
					if !targets[word] {
						t.Errorf("%s: `%s` runs make target %q, which the Makefile does not define", rel, line, word)
					}
				}
			}
			for _, m := range managerCmd.FindAllStringSubmatch(line, -1) {
				for _, f := range flagToken.FindAllStringSubmatch(m[1], -1) {
					checkedFlags++
					if !flags[f[1]] {
						t.Errorf("%s: `%s` gives the manager flag --%s, which it does not accept", rel, line, f[1])
					}
				}
			}
		}
	}
	// The flag table of install.md: its first column names flags.
	b, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range regexp.MustCompile("(?m)^\\| (`--[^|]*)\\|").FindAllStringSubmatch(string(b), -1) {
		for _, f := range regexp.MustCompile("`--([a-z][a-z0-9-]*)`").FindAllStringSubmatch(row[1], -1) {
			checkedFlags++
			if !flags[f[1]] {
				t.Errorf("docs/install.md's flag table names --%s, which the manager does not accept", f[1])
			}
		}
	}
	if checkedMake < 5 || checkedFlags < 8 {
		t.Fatalf("checked only %d make targets and %d flags: has the docs' layout changed?", checkedMake, checkedFlags)
	}
	t.Logf("%d make targets and %d manager flags in the docs, each defined", checkedMake, checkedFlags)
}
