package piiredactionprocessor // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor"

import (
	"context"
	"sync"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottldatapoint"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottllog"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/processor/piiredactionprocessor/internal/metadata"
)

type piiProcessor struct {
	cfg     *Config
	r       *redactor
	conds   *conditions
	tel     *metadata.TelemetryBuilder
	logger  *zap.Logger
	prefix  string
	tallies sync.Pool
	// fieldAttrs caches the telemetry attribute sets per detector and field.
	fieldAttrs []metric.MeasurementOption
}

func newPIIProcessor(set processor.Settings, cfg *Config) (*piiProcessor, error) {
	r, err := newRedactor(cfg)
	if err != nil {
		return nil, err
	}
	conds, err := newConditions(cfg.Conditions, set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &piiProcessor{cfg: cfg, r: r, conds: conds, tel: tel, logger: set.Logger, prefix: cfg.Audit.AttributePrefix}
	if p.prefix == "" {
		p.prefix = "redaction"
	}
	p.tallies.New = func() any { return r.newTally() }
	p.fieldAttrs = make([]metric.MeasurementOption, len(r.specs)*int(numFields))
	for d, sp := range r.specs {
		for f := field(0); f < numFields; f++ {
			p.fieldAttrs[d*int(numFields)+int(f)] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("detector", sp.name), attribute.String("field", fieldNames[f])))
		}
	}
	return p, nil
}

func (p *piiProcessor) shutdown(context.Context) error {
	p.tel.Shutdown()
	return nil
}

var (
	signalLogs    = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", "logs")))
	signalTraces  = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", "traces")))
	signalMetrics = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", "metrics")))
)

// flush reports the batch's counts to telemetry and, at debug level, to the log (detector,
// field and count only; never a value).
func (p *piiProcessor) flush(ctx context.Context, t *tally, records int64, signal metric.MeasurementOption) {
	debug := p.logger.Core().Enabled(zap.DebugLevel)
	for i, c := range t.batch {
		if c == 0 {
			continue
		}
		p.tel.ProcessorPiiredactionRedactions.Add(ctx, c, p.fieldAttrs[i])
		if debug {
			p.logger.Debug("redacted values",
				zap.String("detector", p.r.specs[i/int(numFields)].name),
				zap.String("field", fieldNames[i%int(numFields)]),
				zap.Int64("count", c))
		}
		t.batch[i] = 0
	}
	if records > 0 {
		p.tel.ProcessorPiiredactionRecords.Add(ctx, records, signal)
	}
	t.resetRecord()
	p.tallies.Put(t)
}

func (p *piiProcessor) conditionError(ctx context.Context, err error) {
	p.tel.ProcessorPiiredactionConditionErrors.Add(ctx, 1)
	p.logger.Debug("OTTL condition failed; redacting the record anyway", zap.Error(err))
}

// endRecord writes the audit attributes for the record just processed and reports whether it
// had any redaction.
func (p *piiProcessor) endRecord(t *tally, attrs pcommon.Map) bool {
	if t.recSum == 0 {
		return false
	}
	if p.cfg.Audit.RecordAttributes {
		attrs.PutInt(p.prefix+".total", int64(t.recSum))
		for d, c := range t.record {
			if c > 0 {
				attrs.PutInt(p.prefix+"."+p.r.specs[d].name, int64(c))
			}
		}
	}
	t.resetRecord()
	return true
}

// Resource and scope attributes are not records: their counts go to telemetry only.
func (p *piiProcessor) resource(res pcommon.Map, t *tally) {
	if p.cfg.Scope.ResourceAttributes {
		p.r.redactMap(res, fieldResourceAttributes, t)
		t.resetRecord()
	}
}

func (p *piiProcessor) scope(scope pcommon.Map, t *tally) {
	if p.cfg.Scope.ScopeAttributes {
		p.r.redactMap(scope, fieldScopeAttributes, t)
		t.resetRecord()
	}
}

func (p *piiProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	t := p.tallies.Get().(*tally)
	var records int64
	sc := &p.cfg.Scope
	onErr := func(err error) { p.conditionError(ctx, err) }
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		p.resource(rl.Resource().Attributes(), t)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			p.scope(sl.Scope().Attributes(), t)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if p.conds.log != nil {
					tc := ottllog.NewTransformContextPtr(rl, sl, lr)
					ok := match(ctx, p.conds.log, tc, onErr)
					tc.Close()
					if !ok {
						continue
					}
				}
				if sc.LogBody {
					body := lr.Body()
					if body.Type() == pcommon.ValueTypeStr {
						if out, changed := p.r.redactField(body.Str(), fieldLogBody, t); changed {
							body.SetStr(out)
						}
					} else {
						p.r.redactValue(body, fieldLogBody, t, false)
					}
				}
				if sc.LogAttributes {
					p.r.redactMap(lr.Attributes(), fieldLogAttributes, t)
				}
				if p.endRecord(t, lr.Attributes()) {
					records++
				}
			}
		}
	}
	p.flush(ctx, t, records, signalLogs)
	return ld, nil
}

func (p *piiProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	t := p.tallies.Get().(*tally)
	var records int64
	sc := &p.cfg.Scope
	onErr := func(err error) { p.conditionError(ctx, err) }
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		p.resource(rs.Resource().Attributes(), t)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			p.scope(ss.Scope().Attributes(), t)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if p.conds.span != nil {
					tc := ottlspan.NewTransformContextPtr(rs, ss, span)
					ok := match(ctx, p.conds.span, tc, onErr)
					tc.Close()
					if !ok {
						continue
					}
				}
				p.processSpan(span, sc, t)
				if p.endRecord(t, span.Attributes()) {
					records++
				}
			}
		}
	}
	p.flush(ctx, t, records, signalTraces)
	return td, nil
}

func (p *piiProcessor) processSpan(span ptrace.Span, sc *ScopeConfig, t *tally) {
	if sc.SpanName {
		if out, changed := p.r.redactField(span.Name(), fieldSpanName, t); changed {
			span.SetName(out)
		}
	}
	if sc.SpanAttributes {
		p.r.redactMap(span.Attributes(), fieldSpanAttributes, t)
	}
	if sc.SpanStatusMessage && span.Status().Message() != "" {
		if out, changed := p.r.redactField(span.Status().Message(), fieldSpanStatusMessage, t); changed {
			span.Status().SetMessage(out)
		}
	}
	if sc.SpanEvents {
		evs := span.Events()
		for e := 0; e < evs.Len(); e++ {
			ev := evs.At(e)
			if out, changed := p.r.redactField(ev.Name(), fieldSpanEventName, t); changed {
				ev.SetName(out)
			}
			p.r.redactMap(ev.Attributes(), fieldSpanEventAttributes, t)
		}
	}
	if sc.SpanLinks {
		links := span.Links()
		for l := 0; l < links.Len(); l++ {
			p.r.redactMap(links.At(l).Attributes(), fieldSpanLinkAttributes, t)
		}
	}
}

func (p *piiProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	t := p.tallies.Get().(*tally)
	var records int64
	onErr := func(err error) { p.conditionError(ctx, err) }
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		p.resource(rm.Resource().Attributes(), t)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			p.scope(sm.Scope().Attributes(), t)
			if !p.cfg.Scope.MetricDataPointAttributes {
				continue
			}
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				each := func(dp any, attrs pcommon.Map) {
					if p.conds.datapoint != nil {
						tc := ottldatapoint.NewTransformContextPtr(rm, sm, m, dp)
						ok := match(ctx, p.conds.datapoint, tc, onErr)
						tc.Close()
						if !ok {
							return
						}
					}
					p.r.redactMap(attrs, fieldDataPointAttributes, t)
					if p.endRecord(t, attrs) {
						records++
					}
				}
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps := m.Gauge().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						each(dps.At(d), dps.At(d).Attributes())
					}
				case pmetric.MetricTypeSum:
					dps := m.Sum().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						each(dps.At(d), dps.At(d).Attributes())
					}
				case pmetric.MetricTypeHistogram:
					dps := m.Histogram().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						each(dps.At(d), dps.At(d).Attributes())
					}
				case pmetric.MetricTypeExponentialHistogram:
					dps := m.ExponentialHistogram().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						each(dps.At(d), dps.At(d).Attributes())
					}
				case pmetric.MetricTypeSummary:
					dps := m.Summary().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						each(dps.At(d), dps.At(d).Attributes())
					}
				}
			}
		}
	}
	p.flush(ctx, t, records, signalMetrics)
	return md, nil
}
