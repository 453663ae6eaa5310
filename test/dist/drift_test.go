// Package dist checks that the committed distribution sources in otelcol-dev/ are what the
// builder generates from builder-config.yaml today.
package dist

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}()

// The replace line's relative path depends on where the output goes; everything else must match.
var replaceLine = regexp.MustCompile(`(?m)^replace github\.com/jobtrace/jobtrace v0\.0\.0 => .*$`)

func TestGeneratedSourcesMatchBuilderConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating the distribution fetches modules; skipped with -short")
	}
	builder := filepath.Join(repoRoot, "bin", "builder")
	if _, err := os.Stat(builder); err != nil {
		t.Fatalf("bin/builder missing (run `make tools`): %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(repoRoot, "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "otelcol-dev")
	gen := string(cfg)
	gen = strings.ReplaceAll(gen, "output_path: ./otelcol-dev", "output_path: "+out)
	gen = strings.ReplaceAll(gen, "path: ./\n", "path: "+repoRoot+"\n")
	if gen == string(cfg) {
		t.Fatal("builder-config.yaml no longer has the output_path/path lines this test rewrites")
	}
	cfgPath := filepath.Join(t.TempDir(), "builder-config.yaml")
	if err := os.WriteFile(cfgPath, []byte(gen), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(builder, "--config", cfgPath, "--skip-strict-versioning=false", "--skip-compilation")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("builder: %v\n%s", err, b)
	}

	committed := filepath.Join(repoRoot, "otelcol-dev")
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		want, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil {
			t.Errorf("otelcol-dev/%s is generated but not committed; run `make generate`", e.Name())
			continue
		}
		if e.Name() == "go.mod" {
			want = replaceLine.ReplaceAll(want, nil)
			got = replaceLine.ReplaceAll(got, nil)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("otelcol-dev/%s differs from what builder-config.yaml generates; run `make generate` and commit", e.Name())
		}
	}
}
