package logfilter

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

// slowToParse is within the nesting limit and 4 KiB, yet takes the OTTL parser hundreds of
// milliseconds.
func slowToParse() string {
	one := strings.Repeat("(", 60) + `body == "x"` + strings.Repeat(")", 60)
	return strings.Repeat(one+" or ", 20) + "true"
}

// Issue 13 leftover 3: a parse over its budget finishes in the background. Hostile
// conditions sent at once get an answer within the budget each (over budget, or busy), and
// no more than MaxParses parses run behind them, however many were sent.
func TestParsesPastBudgetAreBounded(t *testing.T) {
	c, err := NewCompilerWithLimits(componenttest.NewNopTelemetrySettings(), Limits{ParseBudget: 50 * time.Millisecond, MaxParses: 2})
	require.NoError(t, err)
	base := runtime.NumGoroutine()
	const n = 24
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Compile(Spec{OTTL: slowToParse()}, time.Now())
		}()
	}
	wg.Wait()
	assert.Less(t, time.Since(t0), 10*time.Second, "every caller was answered without waiting for the parses")
	// The callers are gone; what remains are the background parses.
	behind := runtime.NumGoroutine() - base
	assert.LessOrEqual(t, behind, 2, "background parses are bounded by MaxParses")

	var busy, over int
	for _, err := range errs {
		var fe *Error
		switch {
		case errors.Is(err, ErrBusy):
			busy++
		case errors.As(err, &fe):
			assert.Equal(t, "filters.ottl", fe.Field)
			assert.Contains(t, fe.Message, "took longer than 50ms to parse")
			over++
		default:
			t.Errorf("want busy or over budget, got %v", err)
		}
	}
	assert.Positive(t, busy, "callers that found every slot taken are told the server is busy")
	assert.Positive(t, over)

	// Once the background parses end, their slots serve ordinary conditions again.
	require.Eventually(t, func() bool { return len(c.slots) == 0 }, 30*time.Second, 10*time.Millisecond)
	_, err = c.Compile(Spec{OTTL: `severity_number >= 9`}, time.Now())
	require.NoError(t, err)
}
