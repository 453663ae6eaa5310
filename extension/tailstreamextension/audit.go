package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"go.uber.org/zap"
)

// audit records who did what through the dedicated "audit" logger: stream create, attach,
// change and delete, and trace lookups (the trace API calls it too). Callers pass filters
// and ids, never tokens: the audit log must stay safe to ship.
func (t *tailstream) audit(p *principal, action string, details ...zap.Field) {
	user := "anonymous"
	if p != nil {
		user = p.Name
	}
	fields := make([]zap.Field, 0, len(details)+2)
	fields = append(fields, zap.String("user", user), zap.String("action", action))
	fields = append(fields, details...)
	t.auditLogger.Info("audit", fields...)
}
