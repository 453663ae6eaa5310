package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottldatapoint"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottllog"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// conditions holds the parsed OTTL conditions; a nil sequence means "every record".
type conditions struct {
	log       *ottl.ConditionSequence[*ottllog.TransformContext]
	span      *ottl.ConditionSequence[*ottlspan.TransformContext]
	datapoint *ottl.ConditionSequence[*ottldatapoint.TransformContext]
}

func newConditions(cfg ConditionsConfig, set component.TelemetrySettings) (*conditions, error) {
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	// At debug level OTTL logs every evaluated record in full, which would print the very values
	// this processor exists to hide; keep its logger at info and above.
	set.Logger = set.Logger.WithOptions(zap.IncreaseLevel(zap.InfoLevel))
	var errs []error
	c := &conditions{}
	if len(cfg.LogRecord) > 0 {
		p, err := ottllog.NewParser(ottlfuncs.StandardConverters[*ottllog.TransformContext](), set)
		if err != nil {
			return nil, err
		}
		parsed, err := parseEach(cfg.LogRecord, "conditions.log_record", p.ParseCondition)
		if err != nil {
			errs = append(errs, err)
		} else {
			seq := ottl.NewConditionSequence(parsed, set, ottl.WithConditionSequenceErrorMode[*ottllog.TransformContext](ottl.PropagateError))
			c.log = &seq
		}
	}
	if len(cfg.Span) > 0 {
		p, err := ottlspan.NewParser(ottlfuncs.StandardConverters[*ottlspan.TransformContext](), set)
		if err != nil {
			return nil, err
		}
		parsed, err := parseEach(cfg.Span, "conditions.span", p.ParseCondition)
		if err != nil {
			errs = append(errs, err)
		} else {
			seq := ottl.NewConditionSequence(parsed, set, ottl.WithConditionSequenceErrorMode[*ottlspan.TransformContext](ottl.PropagateError))
			c.span = &seq
		}
	}
	if len(cfg.DataPoint) > 0 {
		p, err := ottldatapoint.NewParser(ottlfuncs.StandardConverters[*ottldatapoint.TransformContext](), set)
		if err != nil {
			return nil, err
		}
		parsed, err := parseEach(cfg.DataPoint, "conditions.datapoint", p.ParseCondition)
		if err != nil {
			errs = append(errs, err)
		} else {
			seq := ottl.NewConditionSequence(parsed, set, ottl.WithConditionSequenceErrorMode[*ottldatapoint.TransformContext](ottl.PropagateError))
			c.datapoint = &seq
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// parseEach parses conditions one by one so each error names its index; the OTTL error carries
// the line:column position of the offending token.
func parseEach[K any](conds []string, key string, parse func(string) (*ottl.Condition[K], error)) ([]*ottl.Condition[K], error) {
	out := make([]*ottl.Condition[K], 0, len(conds))
	var errs []error
	for i, s := range conds {
		c, err := parse(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %q: %w", key, i, s, err))
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// match evaluates seq; an evaluation error selects the record (fail closed: redacting too much
// is better than leaking) and is reported through onErr.
func match[K any](ctx context.Context, seq *ottl.ConditionSequence[K], tCtx K, onErr func(error)) bool {
	ok, err := seq.Eval(ctx, tCtx)
	if err != nil {
		onErr(err)
		return true
	}
	return ok
}
