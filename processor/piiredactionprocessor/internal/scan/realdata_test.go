package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealCapturesUntouched scans the real go-redis-work-queue captures and docker logs under
// the repository's testdata/ (job JSON with ids, trace ids, epoch timestamps, file sizes; zap
// worker lines; producer output) with the issue-14 detectors: none of them may mask anything
// there. (The IPv4 detector does match 127.0.0.1 in the producer's export errors, as intended.)
func TestRealCapturesUntouched(t *testing.T) {
	var files []string
	for _, pat := range []string{"go-redis-work-queue/*", "docker/*.log", "docker/containers/*/*.log"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "testdata", pat))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	s := New(Options{})
	lines := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, l := range strings.Split(string(b), "\n") {
			lines++
			for _, m := range s.Scan(l, nil) {
				switch Kind(m.Det) {
				case Phone, CreditCard, IBAN, SecretKeyword, SecretEntropy, AWSSecretKey:
					t.Errorf("%s: %s masked %q in %q", filepath.Base(f), Kind(m.Det), l[m.Start:m.End], l)
				}
			}
		}
	}
	assert.Greater(t, lines, 100)
}
