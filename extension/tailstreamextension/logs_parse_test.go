package tailstreamextension

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logfilter"
)

// Issue 13 leftover 3: OTTL conditions that parse slowly, sent all at once to stream
// creation and history, each get a JSON error within the parse budget: 400 invalid_filter
// for the ones that ran over it, 503 parser_busy (with Retry-After) for the ones that found
// every parse slot taken. Ordinary requests work again once the background parses end.
func TestHostileOTTLParsesGetErrorsAndStayBounded(t *testing.T) {
	srv := startServer(t, nil)
	c, err := logfilter.NewCompilerWithLimits(componenttest.NewNopTelemetrySettings(), logfilter.Limits{ParseBudget: 50 * time.Millisecond, MaxParses: 2})
	require.NoError(t, err)
	srv.ext.compiler = c

	one := strings.Repeat("(", 60) + `body == "x"` + strings.Repeat(")", 60)
	hostile := strings.Repeat(one+" or ", 20) + "true"
	const n = 16
	codes := make([]int, n)
	errCodes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b []byte
			if i%2 == 0 {
				codes[i], b = srv.do(t, http.MethodPost, "/api/v1/logs/streams", "", map[string]any{"filters": map[string]any{"ottl": hostile}})
			} else {
				codes[i], b = srv.do(t, http.MethodGet, "/api/v1/logs/history?ottl="+url.QueryEscape(hostile), "", nil)
			}
			errCodes[i] = apiErr(t, b).Code
		}()
	}
	wg.Wait()
	busy := 0
	for i := range n {
		switch codes[i] {
		case http.StatusServiceUnavailable:
			assert.Equal(t, "parser_busy", errCodes[i])
			busy++
		case http.StatusBadRequest:
			assert.Equal(t, "invalid_filter", errCodes[i])
		default:
			t.Errorf("request %d: status %d (%s)", i, codes[i], errCodes[i])
		}
	}
	assert.Positive(t, busy)

	req, err := http.NewRequest(http.MethodGet, srv.base+"/api/v1/logs/history?ottl="+url.QueryEscape(hostile), nil)
	require.NoError(t, err)
	var retryAfter string
	require.Eventually(t, func() bool {
		// Keep two slow parses running so the next request finds no slot.
		go func() { _, _ = c.Compile(logfilter.Spec{OTTL: hostile}, time.Now()) }()
		go func() { _, _ = c.Compile(logfilter.Spec{OTTL: hostile}, time.Now()) }()
		time.Sleep(5 * time.Millisecond)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		retryAfter = resp.Header.Get("Retry-After")
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, "1", retryAfter)

	require.Eventually(t, func() bool {
		code, _ := srv.do(t, http.MethodGet, "/api/v1/logs/history?ottl="+url.QueryEscape(`severity_number >= 9`), "", nil)
		return code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "ordinary conditions parse again")
}
