package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/config/configopaque"
)

// UserConfig is one user of the built-in RBAC. Exactly one of Token and TokenSHA256 is set:
// TokenSHA256 lets the config hold no usable secret at all.
type UserConfig struct {
	Name string `mapstructure:"name"`
	// Token is the bearer token, e.g. `${env:JOBTRACE_TOKEN}`. Never logged or echoed.
	Token configopaque.String `mapstructure:"token"`
	// TokenSHA256 is the lowercase hex sha256 of the bearer token.
	TokenSHA256 string `mapstructure:"token_sha256"`
	// Roles are log_viewer, trace_viewer and admin (admin implies the others).
	Roles []string `mapstructure:"roles"`
	// Scope, when set, limits the jobs (and so logs and traces) the user can see.
	Scope ScopeConfig `mapstructure:"scope"`
}

// ScopeConfig limits a user to some jobs. When both parts are set a job must satisfy both.
type ScopeConfig struct {
	// Queues lists the queue names (queue.name) the user may see.
	Queues []string `mapstructure:"queues"`
	// Attribute is a rule on a job attribute, e.g. job.owner in [alice].
	Attribute *AttributeRule `mapstructure:"attribute"`
}

// AttributeRule matches jobs whose attribute Key has one of Values.
type AttributeRule struct {
	Key    string   `mapstructure:"key"`
	Values []string `mapstructure:"values"`
}

// disabled reports whether the user has no token at all (an unset environment variable).
func (u UserConfig) disabled() bool { return u.Token == "" && u.TokenSHA256 == "" }

// tokenHash is the sha256 the authenticator compares bearer tokens against: of Token, or
// TokenSHA256 decoded.
func (u UserConfig) tokenHash() ([32]byte, error) {
	var h [32]byte
	if u.Token != "" {
		return sha256.Sum256([]byte(u.Token)), nil
	}
	b, err := hex.DecodeString(strings.ToLower(u.TokenSHA256))
	if err != nil || len(b) != 32 {
		return h, errors.New("token_sha256: must be 64 hex digits")
	}
	copy(h[:], b)
	return h, nil
}

func (s ScopeConfig) isSet() bool { return len(s.Queues) > 0 || s.Attribute != nil }

func validateUsers(users []UserConfig) error {
	var errs error
	seen := map[string]bool{}
	for i, u := range users {
		key := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			errs = errors.Join(errs, fmt.Errorf("%s.name: must not be empty", key))
		} else if seen[u.Name] {
			errs = errors.Join(errs, fmt.Errorf("%s.name: duplicate user %q", key, u.Name))
		}
		seen[u.Name] = true
		switch {
		case u.Token == "" && u.TokenSHA256 == "":
			// Not an error: `token: ${env:JOBTRACE_TOKEN}` with the variable unset disables the
			// user (Start warns), so a config shipping an admin user still runs locally.
		case u.Token != "" && u.TokenSHA256 != "":
			errs = errors.Join(errs, fmt.Errorf("%s.token_sha256: set either token or token_sha256, not both", key))
		case u.TokenSHA256 != "":
			if _, err := u.tokenHash(); err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s.%w", key, err))
			}
		}
		if len(u.Roles) == 0 {
			errs = errors.Join(errs, fmt.Errorf("%s.roles: must list at least one of log_viewer, trace_viewer, admin", key))
		}
		for _, r := range u.Roles {
			switch r {
			case roleLogViewer, roleTraceViewer, roleAdmin:
			default:
				errs = errors.Join(errs, fmt.Errorf("%s.roles: unknown role %q (want log_viewer, trace_viewer or admin)", key, r))
			}
		}
		if a := u.Scope.Attribute; a != nil {
			if a.Key == "" {
				errs = errors.Join(errs, fmt.Errorf("%s.scope.attribute.key: must not be empty", key))
			}
			if len(a.Values) == 0 {
				errs = errors.Join(errs, fmt.Errorf("%s.scope.attribute.values: must not be empty", key))
			}
		}
	}
	return errs
}
